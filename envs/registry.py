"""The environment registry, and the `env:NAME` verifiers it exports to `referee.verifiers`."""

from __future__ import annotations

import importlib
import threading

from envs.base import _REGISTRY, Environment
from envs.verifier import EnvVerifier

# One module per environment; importing a module registers its environment.
ENV_MODULES = (
    "envs.subset_sum",
    "envs.sudoku",
    "envs.graph_colouring",
    "envs.job_shop",
    "envs.knights_knaves",
    "envs.cryptarithm",
    "envs.n_queens",
    "envs.kenken",
    "envs.planted_sat",
    "envs.linear_system",
    "envs.shortest_path",
    "envs.lcs",
    "envs.interval_scheduling",
)


# Generators use z3's global context, which is not thread-safe: every caller that builds
# instances in a server process (sampling, ORS prompts) holds this lock.
generation_lock = threading.Lock()


class UnknownEnvironmentError(LookupError):
    pass


def _load() -> dict[str, Environment]:
    for module in ENV_MODULES:
        importlib.import_module(module)
    return _REGISTRY


def all_environments() -> list[Environment]:
    return [env for _, env in sorted(_load().items())]


def get_environment(name: str) -> Environment:
    environments = _load()
    key = name.removeprefix("env:")
    if key not in environments:
        raise UnknownEnvironmentError(f"unknown environment {name!r}; known: {', '.join(sorted(environments))}")
    return environments[key]


def env_verifiers() -> list[EnvVerifier]:
    """Entry point of the `referee.verifiers` group: one `env:NAME` verifier per environment."""
    return [EnvVerifier(env) for env in all_environments()]
