"""`env:NAME`: an environment seen as a verifier. The reference is the instance id."""

from __future__ import annotations

from typing import Any

from envs.base import Environment
from verifiers.base import Context, NoParams, Verifier
from verifiers.contract import Verdict


class EnvVerifier(Verifier):
    """Rebuilds the instance from its id (cached per process) and scores the completion."""

    Params = NoParams

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.name = f"env:{env.name}"  # type: ignore[misc]  # per-instance, one verifier per env
        self.version = env.version  # type: ignore[misc]
        self.description = f"{env.description} Reference: an instance id from /v1/envs/{env.name}/sample."  # type: ignore[misc]

    def check_reference(self, reference: Any, params: NoParams) -> str:
        # Decoding is cheap and catches foreign versions, corrupted ids and bad configs up front.
        self.env.decode(reference)
        return reference.strip()

    def verify(self, completion: str, reference: str, params: NoParams, ctx: Context) -> Verdict:
        return self.env.score(self.env.rebuild(reference), completion)
