"""The environments the ORS endpoint serves: every procedural environment, and task files.

Each is an `OrsEnvironment`: splits, task specs, a prompt per task, and the `Item` that scores a
submitted answer through Referee's scorer. A task spec names the task (an instance id, a row
number); the reference stays on the server.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from envs import Environment, InstanceIdError, all_environments
from envs.ids import encode_id
from envs.registry import generation_lock
from server.ors.config import SPLIT_TYPES, ConfigError, EnvOptions, EpisodeOptions, OrsConfig, seed_ranges, split_type
from verifiers.contract import Item
from verifiers.registry import Registry, UnknownVerifierError

ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"

class TaskSpecError(ValueError):
    """A task spec (or split/index) that names no task of this environment."""


@dataclass(frozen=True)
class Split:
    name: str
    type: str


class OrsEnvironment(ABC):
    name: str
    description: str
    options: EpisodeOptions

    @abstractmethod
    def splits(self) -> list[Split]: ...

    @abstractmethod
    def num_tasks(self, split: str) -> int: ...

    @abstractmethod
    def task(self, split: str, index: int) -> dict[str, Any]:
        """The task spec at `index` of `split` (raises TaskSpecError, IndexError)."""

    @abstractmethod
    def check_task(self, task_spec: Any) -> dict[str, Any]:
        """Validate a task spec sent by a client; returns it normalised (raises TaskSpecError)."""

    @abstractmethod
    def prompt(self, task_spec: dict[str, Any]) -> str:
        """The task's prompt (may be CPU-bound: called off the event loop)."""

    @abstractmethod
    def item(self, task_spec: dict[str, Any], answer: str) -> Item:
        """What scores `answer` for this task."""

    def split_names(self) -> list[str]:
        return [s.name for s in self.splits()]

    def tasks(self, split: str, start: int | None = None, stop: int | None = None) -> list[dict[str, Any]]:
        """Task specs of `range(start, stop)` of the split (Python slice semantics)."""
        return [self.task(split, i) for i in range(*slice(start, stop).indices(self.num_tasks(split)))]


class ProceduralEnvironment(OrsEnvironment):
    """A procedural environment: each split is a disjoint range of seeds at one difficulty."""

    def __init__(self, env: Environment, options: EnvOptions):
        self.env = env
        self.name = env.name
        self.description = env.description
        self.options = options
        self._ranges = seed_ranges(options.splits)
        self._configs: dict[str, dict[str, Any]] = {}
        levels = env.levels()
        for name, spec in options.splits.items():
            try:
                config = levels[spec.difficulty] if isinstance(spec.difficulty, str) else env.parse_config(spec.difficulty)
            except ValidationError as exc:
                raise ConfigError(f"split {name!r} of {env.name}: bad difficulty: {exc.errors()[0]['msg']}") from None
            self._configs[name] = config.model_dump(mode="json")

    def splits(self) -> list[Split]:
        return [Split(name, split_type(name, spec)) for name, spec in self.options.splits.items()]

    def num_tasks(self, split: str) -> int:
        return self._ranges[split][1]

    def task(self, split: str, index: int) -> dict[str, Any]:
        start, size = self._ranges[split]
        if not 0 <= index < size:
            raise IndexError(f"index {index} is outside split {split!r} (0..{size - 1})")
        return {"instance_id": encode_id(self.env.name, self.env.version, start + index, self._configs[split])}

    def check_task(self, task_spec: Any) -> dict[str, Any]:
        if not isinstance(task_spec, dict) or set(task_spec) != {"instance_id"}:
            raise TaskSpecError('a task spec of a procedural environment is {"instance_id": "..."}, '
                                f"as listed by /{self.name}/tasks")
        try:
            self.env.decode(task_spec["instance_id"])
        except InstanceIdError as exc:
            raise TaskSpecError(str(exc)) from None
        return {"instance_id": task_spec["instance_id"].strip()}

    def prompt(self, task_spec: dict[str, Any]) -> str:
        instance_id = task_spec["instance_id"]
        instance = self.env.cache.peek(instance_id)
        if instance is None:
            with generation_lock:
                instance = self.env.rebuild(instance_id)
        return instance.prompt

    def item(self, task_spec: dict[str, Any], answer: str) -> Item:
        # The environment's scorer reads the answer between answer tags; the tags are optional here.
        completion = answer if ANSWER_OPEN in answer.lower() else f"{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"
        return Item(verifier=f"env:{self.env.name}", completion=completion, reference=task_spec["instance_id"])


@dataclass(frozen=True)
class TaskRow:
    prompt: str
    verifier: str
    reference: Any
    params: dict[str, Any]
    split: str


class TaskFileEnvironment(OrsEnvironment):
    """A JSONL file of {prompt, verifier, reference, params[, split]} rows; task spec {"row": n}."""

    def __init__(self, name: str, path: Path, options: EpisodeOptions, registry: Registry):
        self.name = name
        self.options = options
        self.description = f"Tasks from {Path(path).name}, each scored by its own verifier."
        self.rows: list[TaskRow] = []
        self._by_split: dict[str, list[int]] = {}
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"task file {name!r}: {exc}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = self._parse_row(name, number, line, registry)
            self._by_split.setdefault(row.split, []).append(len(self.rows))
            self.rows.append(row)
        if not self.rows:
            raise ConfigError(f"task file {name!r} ({path}) has no rows")

    @staticmethod
    def _parse_row(name: str, number: int, line: str, registry: Registry) -> TaskRow:
        where = f"task file {name!r} line {number}"
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: a row is a JSON object")
        unknown = set(raw) - {"prompt", "verifier", "reference", "params", "split"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}")
        prompt, verifier, params = raw.get("prompt"), raw.get("verifier"), raw.get("params") or {}
        if not isinstance(prompt, str) or not prompt.strip():
            raise ConfigError(f"{where}: 'prompt' must be a non-empty string")
        if not isinstance(verifier, str) or not isinstance(params, dict):
            raise ConfigError(f"{where}: 'verifier' must be a string and 'params' an object")
        try:
            found = registry.resolve(verifier)
            parsed = found.parse_params(params)
            found.check_reference(raw.get("reference"), parsed)
        except UnknownVerifierError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        except ValidationError as exc:
            raise ConfigError(f"{where}: bad params for {verifier}: {exc.errors()[0]['msg']}") from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}: bad reference for {verifier}: {exc}") from None
        split = raw.get("split", "train")
        if not isinstance(split, str) or not split:
            raise ConfigError(f"{where}: 'split' must be a non-empty string")
        return TaskRow(prompt=prompt, verifier=verifier, reference=raw.get("reference"), params=params, split=split)

    def splits(self) -> list[Split]:
        return [Split(name, name if name in SPLIT_TYPES else "validation") for name in self._by_split]

    def num_tasks(self, split: str) -> int:
        return len(self._by_split[split])

    def task(self, split: str, index: int) -> dict[str, Any]:
        rows = self._by_split[split]
        if not 0 <= index < len(rows):
            raise IndexError(f"index {index} is outside split {split!r} (0..{len(rows) - 1})")
        return {"row": rows[index]}

    def check_task(self, task_spec: Any) -> dict[str, Any]:
        row = task_spec.get("row") if isinstance(task_spec, dict) and set(task_spec) == {"row"} else None
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < len(self.rows):
            raise TaskSpecError(f'a task spec of {self.name!r} is {{"row": n}} with 0 <= n < {len(self.rows)}')
        return {"row": row}

    def prompt(self, task_spec: dict[str, Any]) -> str:
        return self.rows[task_spec["row"]].prompt

    def item(self, task_spec: dict[str, Any], answer: str) -> Item:
        row = self.rows[task_spec["row"]]
        return Item(verifier=row.verifier, completion=answer, reference=row.reference, params=row.params)


class Catalog:
    """Name -> environment, in listing order (procedural environments, then task files)."""

    def __init__(self, environments: list[OrsEnvironment]):
        self.environments = {env.name: env for env in environments}

    @classmethod
    def build(cls, config: OrsConfig, registry: Registry) -> Catalog:
        found: list[OrsEnvironment] = []
        known = {env.name for env in all_environments()}
        unknown = set(config.env) - known
        if unknown:
            raise ConfigError(f"ORS config names unknown environment(s) {sorted(unknown)}; known: {sorted(known)}")
        for env in all_environments():
            options = config.env_options(env.name)
            if options.enabled:
                found.append(ProceduralEnvironment(env, options))
        for name, file in config.task_files.items():
            if name in known:
                raise ConfigError(f"task file name {name!r} is taken by a procedural environment")
            found.append(TaskFileEnvironment(name, file.path, file, registry))
        return cls(found)

    def get(self, name: str) -> OrsEnvironment | None:
        return self.environments.get(name)

    def names(self) -> list[str]:
        return list(self.environments)
