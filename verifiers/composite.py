"""`composite`: a weighted sum of other verifiers, e.g. 0.9 * math + 0.1 * format.

Each part's reward shows up in `components`. A part that could not judge (timeout, error,
invalid input) makes the whole verdict carry that status: a partial sum would be a silent lie.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from verifiers.base import Context, Verifier
from verifiers.contract import Status, Verdict

_NOT_JUDGED = (Status.timeout, Status.error, Status.invalid_input)
_MISSING = object()


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
    name = "composite"
    version = 1
    description = "Weighted sum of other verifiers; each part's reward is reported in components."
    Params = CompositeParams

    def _part_reference(self, part: Part, reference: Any) -> Any:
        if part.reference is not None:
            return part.reference
        return reference if part.use_item_reference else None

    def check_reference(self, reference: Any, params: CompositeParams) -> Any:
        # Resolving parts here is impossible without the registry; it happens in verify (fast).
        return reference

    def verify(self, completion: str, reference: Any, params: CompositeParams, ctx: Context) -> Verdict:
        total, components, parts = 0.0, {}, {}
        for part in params.parts:
            verdict = self._run_part(part, completion, reference, ctx)
            parts[part.component] = {"verifier": verdict.verifier, "status": verdict.status.value,
                                     "reward": verdict.reward, "message": verdict.message}
            if verdict.status in _NOT_JUDGED:
                return Verdict.failed(verdict.status, f"part {part.component!r}: {verdict.message}",
                                      details={"parts": parts})
            components[part.component] = verdict.reward
            total += part.weight * verdict.reward
        return Verdict.scored(total, components=components, details={"parts": parts})

    def _run_part(self, part: Part, completion: str, reference: Any, ctx: Context) -> Verdict:
        from verifiers.registry import UnknownVerifierError

        try:
            verifier = ctx.registry.resolve(part.verifier)
            if isinstance(verifier, CompositeVerifier):
                return Verdict.failed(Status.invalid_input, "composites cannot nest")
            params = verifier.parse_params(part.params)
            ref = verifier.check_reference(self._part_reference(part, reference), params)
        except (UnknownVerifierError, ValueError, TypeError) as exc:
            return Verdict.failed(Status.invalid_input, str(exc))
        if verifier.is_async:
            result = asyncio.run(verifier.averify(completion, ref, params, ctx))
        else:
            result = verifier.verify(completion, ref, params, ctx)
        result.verifier = result.verifier or verifier.spec
        return result
