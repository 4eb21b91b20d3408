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

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    def parse_params(self, raw: dict[str, Any] | BaseModel | None) -> BaseModel:
        """Validate options; raises pydantic.ValidationError."""
        if isinstance(raw, self.Params):
            return raw
        if not raw:  # most items use the defaults: validate them once
            default = self.__dict__.get("_default_params")
            if default is None:
                default = self.__dict__["_default_params"] = self.Params.model_validate({})
            return default
        return self.Params.model_validate(raw)

    def check_reference(self, reference: Any, params: BaseModel) -> Any:
        """Cheap shape check of the reference before any work is queued; raise ValueError if bad."""
        return reference

    def verify(self, completion: str, reference: Any, params: Any, ctx: Context) -> Verdict:
        raise NotImplementedError(f"{type(self).__name__} implements neither verify nor averify")

    async def averify(self, completion: str, reference: Any, params: Any, ctx: Context) -> Verdict:
        return self.verify(completion, reference, params, ctx)


VerifyFn = Callable[[str, Any, Any, Context], Verdict]


def verifier_from_function(
    fn: VerifyFn,
    *,
    name: str,
    version: int = 1,
    description: str = "",
    params: type[BaseModel] = NoParams,
) -> Verifier:
    """Wrap a plain `fn(completion, reference, params, ctx) -> Verdict` as a verifier."""
    cls = type(
        f"FunctionVerifier_{name}",
        (Verifier,),
        {
            "name": name,
            "version": version,
            "description": description or (fn.__doc__ or "").strip(),
            "Params": params,
            "verify": lambda self, c, r, p, ctx: fn(c, r, p, ctx),
        },
    )
    return cls()
