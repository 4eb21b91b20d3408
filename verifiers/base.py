"""What a verifier is: a name, an integer version, a params model and a `verify`."""

from __future__ import annotations

import time
from abc import ABC
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from pydantic import BaseModel, ConfigDict

from verifiers.contract import Verdict

if TYPE_CHECKING:
    from verifiers.registry import Registry


class NoParams(BaseModel):
    """Params model of a verifier that takes no options."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Context:
    """What a running verifier may know about its surroundings."""

    registry: "Registry"
    deadline: float = field(default_factory=lambda: time.monotonic() + 30.0)  # time.monotonic() clock

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class Verifier(ABC):
    """Base class of every verifier.

    CPU-bound verifiers implement `verify` and run in worker processes, where an overrun is
    cut off by killing the process. I/O-bound verifiers (judges, remote reward models) set
    `is_async = True`, implement `averify`, and run on the server's event loop.
    Bump `version` whenever scoring can change: cached results are keyed by it.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams
    is_async: ClassVar[bool] = False
    # Above 1: the verifier has a per-batch cost (a sandbox run) and implements `verify_batch`;
    # the pool sends it chunks of about this many tasks and the worker hands them over together.
    batch_size: ClassVar[int] = 1

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    def parse_params(self, raw: dict[str, Any] | BaseModel | None) -> BaseModel:
        """Validate options; raises pydantic.ValidationError."""
        if not raw:  # most items use the defaults: validate them once
            default = self.__dict__.get("_default_params")
            if default is None:
                default = self.__dict__["_default_params"] = self.Params.model_validate({})
            return default
        if not isinstance(raw, dict) and isinstance(raw, self.Params):
            return raw
        return self.Params.model_validate(raw)

    def check_reference(self, reference: Any, params: BaseModel) -> Any:
        """Cheap shape check of the reference before any work is queued; raise ValueError if bad.

        Returns the reference as the worker will get it: plain JSON (it travels inside a Task).
        """
        return reference

    def identity(self) -> str:
        """What, beyond `name@version`, tells this verifier apart in the registry fingerprint:
        its class, by default; a verifier built from source adds the source hash."""
        cls = type(self)
        return f"{cls.__module__}.{cls.__qualname__}"

    def config_key(self, params: BaseModel) -> str:
        """Server-side configuration a verdict depends on for these params (a judge's model and
        prompt settings …), as a short string; part of the result-cache key. Empty by default."""
        return ""

    def verify(self, completion: str, reference: Any, params: Any, ctx: Context) -> Verdict:
        raise NotImplementedError(f"{type(self).__name__} implements neither verify nor averify")

    async def averify(self, completion: str, reference: Any, params: Any, ctx: Context) -> Verdict:
        return self.verify(completion, reference, params, ctx)

    def vote(self, completions: list[str], params: Any, ctx: Context) -> Verdict:
        """Majority answer of a group (`details.answer`), for `reference_from_group: "majority"`."""
        raise NotImplementedError(f"{self.spec} cannot take its reference from a group vote")

    def split(self, reference: Any, params: Any, registry: "Registry") -> list[Any] | None:
        """A verifier built from other verifiers' verdicts (`composite`) lists the part calls
        that must run elsewhere (async parts on the event loop); the scorer runs them and calls
        `combine`. None (the default): the verifier runs whole."""
        return None

    def combine(self, params: Any, verdicts: list[Verdict]) -> Verdict:
        raise NotImplementedError(f"{self.spec} has no parts to combine")

    @property
    def can_vote(self) -> bool:
        return type(self).vote is not Verifier.vote


VerifyFn = Callable[[str, Any, Any, Context], Verdict]


class FunctionVerifier(Verifier):
    """A plain function seen as a verifier; pickles as the function and its options, so a
    registry holding one can be sent to worker processes (the function must be importable)."""

    def __init__(self, fn: VerifyFn, *, name: str, version: int, description: str,
                 params: type[BaseModel]) -> None:
        self.fn = fn
        self.name = name  # type: ignore[misc]  # per-instance
        self.version = version  # type: ignore[misc]
        self.description = description or (fn.__doc__ or "").strip()  # type: ignore[misc]
        self.Params = params  # type: ignore[misc]

    def identity(self) -> str:
        return f"{self.fn.__module__}.{getattr(self.fn, '__qualname__', self.fn)}"

    def verify(self, completion: str, reference: Any, params: Any, ctx: Context) -> Verdict:
        return self.fn(completion, reference, params, ctx)

    def __reduce__(self) -> Any:
        return (_function_verifier, (self.fn, self.name, self.version, self.description, self.Params))


def _function_verifier(fn: VerifyFn, name: str, version: int, description: str,
                       params: type[BaseModel]) -> FunctionVerifier:
    return FunctionVerifier(fn, name=name, version=version, description=description, params=params)


def verifier_from_function(
    fn: VerifyFn,
    *,
    name: str,
    version: int = 1,
    description: str = "",
    params: type[BaseModel] = NoParams,
) -> Verifier:
    """Wrap a plain `fn(completion, reference, params, ctx) -> Verdict` as a verifier."""
    return FunctionVerifier(fn, name=name, version=version, description=description, params=params)
