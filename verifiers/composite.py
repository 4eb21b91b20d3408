"""`composite`: a weighted sum of other verifiers, e.g. 0.9 * math + 0.1 * format.

Each part's reward shows up in `components`. A part that could not judge (timeout, error,
invalid input) makes the whole verdict carry that status: a partial sum would be a silent lie.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from verifiers.asyncbridge import run_blocking
from verifiers.base import Context, Verifier
from verifiers.contract import Status, Verdict
from verifiers.registry import Registry, UnknownVerifierError
from verifiers.runtime.finalize import finalize

_NOT_JUDGED = (Status.timeout, Status.error, Status.invalid_input)


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verifier: str
    weight: float = Field(1.0, allow_inf_nan=False)
    params: dict[str, Any] = Field(default_factory=dict)
    name: str | None = Field(None, description="component name (default: the verifier name)")
    reference: Any = Field(None, description="this part's own reference (default: the item's reference)")
    use_item_reference: bool = Field(True, description="pass the item's reference when `reference` is unset")

    @property
    def component(self) -> str:
        return self.name or self.verifier.partition("@")[0]


class CompositeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parts: list[Part] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> CompositeParams:
        names = [p.component for p in self.parts]
        if len(set(names)) != len(names):
            raise ValueError(f"component names must be unique, got {names}; set `name` on parts")
        return self


class CompositeVerifier(Verifier):
    """Runs whole inside a worker when every part is sync. With an async part (judge, grm), the
    scorer runs the parts where they belong (`split`): sync parts in the workers, async parts on
    the server's event loop with its one judge/GRM budget, then `combine`s their verdicts."""

    name = "composite"
    version = 1
    description = "Weighted sum of other verifiers; each part's reward is reported in components."
    Params = CompositeParams

    def _part_reference(self, part: Part, reference: Any) -> Any:
        if part.reference is not None:
            return part.reference
        return reference if part.use_item_reference else None

    def check_reference(self, reference: Any, params: CompositeParams) -> Any:
        # Resolving parts here is impossible without the registry; it happens in plan (fast).
        return reference

    def plan(self, reference: Any, params: CompositeParams, registry: Registry) -> list[PartCall | Verdict]:
        """Each part as a call of its own verifier, or the `invalid_input` verdict saying why not."""
        calls: list[PartCall | Verdict] = []
        for part in params.parts:
            try:
                verifier = registry.resolve(part.verifier)
                if isinstance(verifier, CompositeVerifier):
                    raise ValueError("composites cannot nest")
                part_params = verifier.parse_params(part.params)
                ref = verifier.check_reference(self._part_reference(part, reference), part_params)
            except (UnknownVerifierError, ValueError, TypeError) as exc:  # ValidationError is a ValueError
                calls.append(Verdict.failed(Status.invalid_input, str(exc), verifier=part.verifier))
                continue
            except Exception as exc:  # a part's check_reference crashed
                calls.append(Verdict.failed(Status.error, f"{part.verifier}: {type(exc).__name__}: {exc}"))
                continue
            calls.append(PartCall(verifier=verifier, params=part_params, raw_params=part.params, reference=ref))
        return calls

    def split(self, reference: Any, params: CompositeParams, registry: Registry) -> list[PartCall | Verdict] | None:
        """The plan when some part must run elsewhere (async), else None: run whole in a worker."""
        calls = self.plan(reference, params, registry)
        return calls if any(isinstance(c, PartCall) and c.verifier.is_async for c in calls) else None

    def combine(self, params: CompositeParams, verdicts: list[Verdict]) -> Verdict:
        total, components, parts = 0.0, {}, {}
        for part, verdict in zip(params.parts, verdicts):
            parts[part.component] = {"verifier": verdict.verifier, "status": verdict.status.value,
                                     "reward": verdict.reward, "message": verdict.message}
            if verdict.status in _NOT_JUDGED:
                return Verdict.failed(verdict.status, f"part {part.component!r}: {verdict.message}",
                                      details={"parts": parts})
            components[part.component] = verdict.reward
            total += part.weight * verdict.reward
        return Verdict.scored(total, components=components, details={"parts": parts})

    def verify(self, completion: str, reference: Any, params: CompositeParams, ctx: Context) -> Verdict:
        verdicts: list[Verdict] = []
        for call in self.plan(reference, params, ctx.registry):
            if isinstance(call, Verdict):
                verdicts.append(call)
                continue
            started = time.perf_counter()
            if call.verifier.is_async:  # in-process library use only: the scorer splits such composites
                result: object = run_blocking(lambda: call.verifier.averify(completion, call.reference, call.params, ctx))
            else:
                result = call.verifier.verify(completion, call.reference, call.params, ctx)
            verdicts.append(finalize(result, call.verifier.spec, (time.perf_counter() - started) * 1000))
        return self.combine(params, verdicts)


@dataclass
class PartCall:
    verifier: Verifier
    params: BaseModel
    raw_params: dict[str, Any]
    reference: Any
