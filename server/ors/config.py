"""What the ORS endpoint serves: per-environment options, splits, task files (TOML + settings).

    # ors.toml (`referee serve --ors-config ors.toml`)
    [defaults]                  # every procedural environment
    max_attempts = 1
    [env.sudoku]
    max_attempts = 3            # "try again": a wrong answer says which constraint failed
    discount = 0.5              # a right answer at attempt k earns discount ** (k - 1)
    interpreter = true          # offer run_python(code) next to submit
    splits = { train = { size = 5000, difficulty = "easiest" }, test = { size = 200, seed_start = 1_000_000_000_000 } }
    [task_files.algebra]
    path = "algebra.jsonl"      # rows {prompt, verifier, reference, params}

Task files can also be named on the command line (`--task-file NAME=PATH`) or in
`REFEREE_ORS_TASK_FILES` (`NAME=PATH,NAME=PATH`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SPLIT_STRIDE = 10**12  # default seed_start of the n-th split: n * SPLIT_STRIDE
MAX_SPLIT_SIZE = 10**9
SPLIT_TYPES = ("train", "validation", "test")


class ConfigError(ValueError):
    """The ORS configuration is invalid; the message says where."""


class SplitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(1000, ge=1, le=MAX_SPLIT_SIZE, description="number of tasks (instances) in the split")
    seed_start: int | None = Field(None, ge=0, description="first seed; default: split position x 10^12")
    difficulty: Literal["easiest", "default", "hardest"] | dict[str, Any] = Field(
        "default", description="a named level of the environment, or its config (difficulty knobs)")
    type: Literal["train", "validation", "test"] | None = Field(None, description="default: from the name")


class EpisodeOptions(BaseModel):
    """How an episode of one environment plays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(1, ge=1, le=100, description="submissions allowed; >1 turns on 'try again'")
    discount: float = Field(0.5, gt=0, le=1, description="a right answer at attempt k earns reward x discount^(k-1)")
    interpreter: bool = Field(False, description="offer the stateful run_python(code) tool next to submit")


class EnvOptions(EpisodeOptions):
    enabled: bool = True
    splits: dict[str, SplitSpec] = Field(default_factory=lambda: {
        "train": SplitSpec(size=10_000), "test": SplitSpec(size=1_000)})


class TaskFileOptions(EpisodeOptions):
    path: Path
    interpreter: bool = True


class OrsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    defaults: dict[str, Any] = Field(default_factory=dict, description="options every procedural environment starts from")
    env: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-environment options")
    task_files: dict[str, TaskFileOptions] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_option_names(self) -> OrsConfig:
        for where, options in [("defaults", self.defaults), *((f"env.{k}", v) for k, v in self.env.items())]:
            unknown = set(options) - set(EnvOptions.model_fields)
            if unknown:
                raise ValueError(f"[{where}]: unknown option(s) {sorted(unknown)}; known: {sorted(EnvOptions.model_fields)}")
        return self

    def env_options(self, name: str) -> EnvOptions:
        try:
            return EnvOptions.model_validate({**self.defaults, **self.env.get(name, {})})
        except ValidationError as exc:
            raise ConfigError(f"ORS options of environment {name!r}: {_first_error(exc)}") from None


def seed_ranges(splits: dict[str, SplitSpec]) -> dict[str, tuple[int, int]]:
    """name -> (first seed, size); raises ConfigError when two splits share a seed."""
    ranges = {name: (spec.seed_start if spec.seed_start is not None else i * SPLIT_STRIDE, spec.size)
              for i, (name, spec) in enumerate(splits.items())}
    ordered = sorted(ranges.items(), key=lambda kv: kv[1][0])
    for (a, (start_a, size_a)), (b, (start_b, _)) in zip(ordered, ordered[1:]):
        if start_a + size_a > start_b:
            raise ConfigError(f"splits {a!r} and {b!r} overlap: seeds {start_a}..{start_a + size_a - 1} "
                              f"and from {start_b}; splits must be disjoint seed ranges")
    return ranges


def split_type(name: str, spec: SplitSpec) -> str:
    return spec.type or (name if name in SPLIT_TYPES else "validation")


def parse_task_file_flags(text: str) -> dict[str, Path]:
    """`NAME=PATH,NAME=PATH` -> {NAME: PATH}."""
    found: dict[str, Path] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, path = part.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError(f"task file {part!r}: write NAME=PATH")
        found[name.strip()] = Path(path.strip())
    return found


def load_config(path: Path | None, task_files: str = "") -> OrsConfig:
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"ORS config {path}: {exc}") from None
    try:
        config = OrsConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"ORS config {path}: {_first_error(exc)}") from None
    extra = parse_task_file_flags(task_files)
    if extra:
        merged = dict(config.task_files)
        for name, file in extra.items():
            merged[name] = merged[name].model_copy(update={"path": file}) if name in merged else TaskFileOptions(path=file)
        config = config.model_copy(update={"task_files": merged})
    return config


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "config"
    return f"{where}: {err['msg']}"
