"""What an environment is: a name, a version, a config model, a seeded generator and a scorer.

    env = get_environment("sudoku")
    inst = env.sample(seed=7, config={"size": 4})
    inst.prompt            # what the model sees, ending with the exact answer format
    inst.id                # `sudoku.v1.7.<config>.<check>`: rebuilds the same instance anywhere
    env.score(inst, completion) -> Verdict

Determinism: every instance is drawn from `random.Random` seeded by a blake2b hash of
(name, version, canonical config, seed); Python's salted `hash()` is never used. z3 is only
asked sat/unsat questions under a deterministic resource limit (`rlimit`, not wall time), so
a prompt never depends on which model the solver happened to find or on machine speed.

Bounded cost: a generator draws candidates through `Generation.tries()`, which raises
`GenerationBudgetExceeded` after `max_attempts`; solver calls carry `solver_rlimit`.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, Iterator

from pydantic import BaseModel, ConfigDict, ValidationError

from envs.ids import InstanceIdError, canonical_json, decode_id, encode_id
from verifiers.contract import Status, Verdict
from verifiers.text import after_reasoning
from verifiers.validation import first_error

ANSWER_TAGS = ("<answer>", "</answer>")
_OPEN_TAG = re.compile(r"<answer>", re.IGNORECASE)
_CLOSE_TAG = re.compile(r"</answer>", re.IGNORECASE)
MAX_ANSWER_CHARS = 10_000  # the longest well-formed answer (100 SAT literals, a 9x9 grid) is far shorter


class EnvConfig(BaseModel):
    """Base of every environment's config: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerationBudgetExceeded(RuntimeError):
    """A generator found no acceptable instance within its documented budget."""


class AnswerFormatError(ValueError):
    """The completion has no parseable answer; becomes status `wrong_format`."""


@dataclass
class Generation:
    """The generator's source of randomness and its budget."""

    rng: random.Random
    max_attempts: int
    solver_rlimit: int
    label: str = ""
    attempts: int = 0
    solver_calls: int = 0

    def tries(self) -> Iterator[int]:
        """Yield attempt numbers; raise GenerationBudgetExceeded once `max_attempts` are used."""
        while True:
            if self.attempts >= self.max_attempts:
                raise GenerationBudgetExceeded(
                    f"{self.label}: no acceptable instance in {self.max_attempts} attempts "
                    f"(solver rlimit {self.solver_rlimit}); lower the difficulty or raise the budget")
            self.attempts += 1
            yield self.attempts

    def solver(self, logic: str | None = None, ctx: Any = None) -> Any:
        """A fresh z3 solver (for `logic`, in `ctx`, if given) under the deterministic resource limit.

        sat/unsat answers never depend on solver state, but models do: a generator that keeps
        a model (as a reference) must build its terms in a fresh `z3.Context()` of its own.
        """
        import z3

        self.solver_calls += 1
        solver = z3.SolverFor(logic, ctx=ctx) if logic else z3.Solver(ctx=ctx)
        solver.set("rlimit", self.solver_rlimit)
        return solver


@dataclass(frozen=True)
class Problem:
    """What a generator returns: the prompt, the public data the scorer checks against, the reference."""

    prompt: str
    data: dict[str, Any]
    solution: Any
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Instance:
    id: str
    env: str
    version: int
    seed: int
    config: dict[str, Any]
    prompt: str
    data: dict[str, Any]
    solution: Any  # the reference; stays on the server unless exported for offline use
    metadata: dict[str, Any]

    def answer_text(self) -> str:
        """The reference written in the answer format, wrapped in answer tags (for offline use and tests)."""
        from envs.registry import get_environment

        body = get_environment(self.env).format_answer(self.solution)
        return f"{ANSWER_TAGS[0]}{body}{ANSWER_TAGS[1]}"

    def public(self) -> dict[str, Any]:
        """Everything a client may see: no reference."""
        return {"id": self.id, "env": self.env, "version": self.version, "seed": self.seed,
                "prompt": self.prompt, "metadata": self.metadata}

    def scoring_view(self) -> dict[str, Any]:
        """What a scorer needs (no prompt), to hand a built instance to another server process."""
        return {"id": self.id, "env": self.env, "version": self.version, "seed": self.seed,
                "config": self.config, "data": self.data, "solution": self.solution}

    @classmethod
    def from_scoring_view(cls, view: dict[str, Any]) -> Instance:
        return cls(prompt="", metadata={}, **view)


class InstanceCache:
    """A thread-safe LRU of built instances; `peek` never builds."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Instance] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, instance_id: str) -> Instance | None:
        with self._lock:
            instance = self._items.get(instance_id)
            if instance is not None:
                self._items.move_to_end(instance_id)
            return instance

    def put(self, instance: Instance) -> None:
        with self._lock:
            self._items[instance.id] = instance
            self._items.move_to_end(instance.id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def stable_rng(*parts: Any) -> random.Random:
    digest = hashlib.blake2b(canonical_json(list(parts)), digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))


def last_match(pattern: re.Pattern[str], text: str, end: int) -> re.Match[str] | None:
    """The last match of a literal pattern in text[:end], scanning from the end in growing windows."""
    window = 256
    while True:
        begin = max(0, end - window)
        found = None
        for found in pattern.finditer(text, begin, end):
            pass
        if found is not None or begin == 0:
            return found
        window *= 4


def extract_answer(completion: str) -> str:
    """The text of the last `<answer>...</answer>` block after any reasoning block."""
    text = after_reasoning(completion)
    # Literal tags found from the end: linear time, where a lazy `<answer>(.*?)</answer>`
    # regex is quadratic on a completion made of many opening tags.
    close = last_match(_CLOSE_TAG, text, len(text))
    start = last_match(_OPEN_TAG, text, close.start()) if close else None
    if close is None or start is None:
        raise AnswerFormatError("no <answer>...</answer> block after the reasoning")
    answer = text[start.end():close.start()].strip()
    if len(answer) > MAX_ANSWER_CHARS:
        raise AnswerFormatError(f"answer is {len(answer)} characters, over {MAX_ANSWER_CHARS}")
    return answer


_INT = re.compile(r"[+-]?[0-9]{1,30}")


def parse_int(token: str, what: str) -> int:
    token = token.strip()
    if token.isascii() and token.isdigit() and len(token) <= 30:  # the common case, without a regex
        return int(token)
    if not _INT.fullmatch(token):
        raise AnswerFormatError(f"{what}: {token[:40]!r} is not an integer")
    return int(token)


def parse_int_list(text: str, what: str) -> list[int]:
    """Integers separated by commas and/or whitespace, optionally in one pair of brackets."""
    text = text.strip()
    if text[:1] in "[(" and text[-1:] in "])":
        text = text[1:-1]
    tokens = [t for t in re.split(r"[,\s]+", text) if t]
    return [parse_int(t, what) for t in tokens]


def reject(constraint: str, reason: str, **details: Any) -> Verdict:
    """A parseable answer that breaks a constraint: reward 0, and which constraint and why."""
    return Verdict.scored(0.0, message=f"{constraint}: {reason}",
                          details={"failed": constraint, "reason": reason, **details})


def accept(reward: float = 1.0, **details: Any) -> Verdict:
    return Verdict.scored(reward, details={"failed": None, **details})


class Environment(ABC):
    """Base class of every environment (one subclass per file, registered with `@register`).

    Subclasses set `name`, `version` (bump whenever generation or scoring can change),
    `description`, `Config` (an `EnvConfig` whose fields are the documented difficulty knobs),
    `easiest` / `hardest` (config dicts at the ends of the documented ranges), the budget
    (`max_attempts`, `solver_rlimit`), `partial_credit` (a sentence; "none" unless documented),
    and implement `generate`, `parse_answer` and `check`.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""
    kind: ClassVar[str] = "smt"  # "smt": planted / solver-checked; "oracle": reference computed by an algorithm
    Config: ClassVar[type[EnvConfig]] = EnvConfig
    easiest: ClassVar[dict[str, Any]] = {}
    hardest: ClassVar[dict[str, Any]] = {}
    max_attempts: ClassVar[int] = 50
    solver_rlimit: ClassVar[int] = 2_000_000
    partial_credit: ClassVar[str] = "none: reward is 1 for a valid answer, 0 otherwise"
    cache_size: ClassVar[int] = 2048

    def __init__(self) -> None:
        # GRPO scores many answers per instance: rebuild each id once per process.
        self.cache = InstanceCache(self.cache_size)
        # The API process checks every item's id; a batch repeats each id many times.
        self._decode_memo = lru_cache(maxsize=16 * self.cache_size)(self._decode)

    # ---- to implement -------------------------------------------------------------------
    @abstractmethod
    def generate(self, gen: Generation, config: Any) -> Problem: ...

    @abstractmethod
    def format_answer(self, solution: Any) -> str:
        """The reference solution written in the prompt's answer format (scores 1)."""

    @abstractmethod
    def parse_answer(self, answer: str, instance: Instance) -> Any:
        """Turn the answer text into a value; raise AnswerFormatError if it cannot be parsed."""

    @abstractmethod
    def check(self, instance: Instance, answer: Any) -> Verdict:
        """Check the parsed answer against the instance's constraints (not against the reference)."""

    # ---- provided -----------------------------------------------------------------------
    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    def parse_config(self, config: dict[str, Any] | EnvConfig | None) -> EnvConfig:
        if isinstance(config, self.Config):
            return config
        return self.Config.model_validate(config or {})

    def levels(self) -> dict[str, EnvConfig]:
        return {"easiest": self.parse_config(self.easiest), "default": self.parse_config({}),
                "hardest": self.parse_config(self.hardest)}

    def sample(self, seed: int, config: dict[str, Any] | EnvConfig | None = None) -> Instance:
        cfg = self.parse_config(config)
        instance_id = encode_id(self.name, self.version, seed, cfg.model_dump(mode="json"))
        return self.rebuild(instance_id)

    def sample_many(self, seed: int, n: int, config: dict[str, Any] | EnvConfig | None = None) -> list[Instance]:
        """`n` instances from seeds `seed, seed+1, …`."""
        cfg = self.parse_config(config)
        return [self.sample(seed + i, cfg) for i in range(n)]

    def decode(self, instance_id: Any) -> tuple[int, EnvConfig]:
        """Validate an id for this environment; raises InstanceIdError with a clear reason."""
        if isinstance(instance_id, str):
            return self._decode_memo(instance_id)
        return self._decode(instance_id)

    def _decode(self, instance_id: Any) -> tuple[int, EnvConfig]:
        decoded = decode_id(instance_id)
        if decoded.name != self.name:
            raise InstanceIdError(f"instance id belongs to environment {decoded.name!r}, not {self.name!r}")
        if decoded.version != self.version:
            raise InstanceIdError(
                f"instance id was made by {decoded.name} version {decoded.version}, but this is "
                f"{self.spec}; instances are only rebuilt by the version that made them "
                f"(pin the verifier as env:{self.name}@{decoded.version} on a server that has it)")
        try:
            config = self.parse_config(decoded.config)
        except ValidationError as exc:
            raise InstanceIdError(f"instance id has an invalid config for {self.spec}: {first_error(exc, 'config')}") from None
        return decoded.seed, config

    def rebuild(self, instance_id: str) -> Instance:
        instance_id = instance_id.strip()
        instance = self.cache.peek(instance_id)
        if instance is None:
            instance = self._rebuild(instance_id)
            self.cache.put(instance)
        return instance

    def _rebuild(self, instance_id: str) -> Instance:
        seed, config = self.decode(instance_id)
        config_json = config.model_dump(mode="json")
        gen = Generation(rng=stable_rng(self.name, self.version, config_json, seed),
                         max_attempts=self.max_attempts, solver_rlimit=self.solver_rlimit,
                         label=f"{self.spec} seed={seed} config={config_json}")
        problem = self.generate(gen, config)
        metadata = {**problem.metadata, "attempts": gen.attempts, "solver_calls": gen.solver_calls}
        return Instance(id=instance_id, env=self.name, version=self.version, seed=seed, config=config_json,
                        prompt=problem.prompt, data=problem.data, solution=problem.solution, metadata=metadata)

    def score(self, instance: Instance | str, completion: str) -> Verdict:
        """Score one completion; unparseable answers are `wrong_format`, never an exception."""
        if isinstance(instance, str):
            instance = self.rebuild(instance)
        try:
            answer = self.parse_answer(extract_answer(completion), instance)
        except AnswerFormatError as exc:
            return Verdict.failed(Status.wrong_format, str(exc), details={"failed": "format"})
        return self.check(instance, answer)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "spec": self.spec, "kind": self.kind,
                "description": self.description, "partial_credit": self.partial_credit,
                "budget": {"max_attempts": self.max_attempts, "solver_rlimit": self.solver_rlimit},
                "easiest": self.parse_config(self.easiest).model_dump(mode="json"),
                "hardest": self.parse_config(self.hardest).model_dump(mode="json"),
                "config_schema": self.Config.model_json_schema()}


def answer_format(spec: str, example: str) -> str:
    """The closing paragraph every prompt ends with: the exact answer format, with an example."""
    return (f"\n\nAnswer format: {spec} Put only the answer between {ANSWER_TAGS[0]} and {ANSWER_TAGS[1]} "
            f"as the last thing in your reply, for example:\n{ANSWER_TAGS[0]}{example}{ANSWER_TAGS[1]}")


_REGISTRY: dict[str, Environment] = {}


def register(cls: type[Environment]) -> type[Environment]:
    """Class decorator: make an environment known to `envs.registry`."""
    instance = cls()
    if instance.name in _REGISTRY:
        raise ValueError(f"environment {instance.name!r} registered twice")
    _REGISTRY[instance.name] = instance
    return cls


_GRID_SEPARATORS = re.compile(r"[,\s|]+")


def parse_grid(text: str, size: int, what: str = "grid") -> list[list[int]]:
    """`size` lines of `size` integers (spaces or commas; single digits may be written together).

    Lines without any digit (box rules such as `------+------`) are skipped.
    """
    rows = [line.strip() for line in text.strip().splitlines() if any(ch.isdigit() for ch in line)]
    if len(rows) != size:
        raise AnswerFormatError(f"{what}: expected {size} rows, got {len(rows)}")
    grid = []
    for i, row in enumerate(rows, 1):
        tokens = [t for t in _GRID_SEPARATORS.split(row.strip("[]() ")) if t and t not in "|+"]
        if len(tokens) == 1 and size <= 9 and len(tokens[0]) == size:
            tokens = list(tokens[0])
        if len(tokens) != size:
            raise AnswerFormatError(f"{what}: row {i} has {len(tokens)} values, expected {size}")
        grid.append([parse_int(t, f"{what} row {i}") for t in tokens])
    return grid


def format_grid(grid: list[list[int]], blank: str = ".") -> str:
    return "\n".join(" ".join(blank if v == 0 else str(v) for v in row) for row in grid)
