"""Registrations without code: a preset (a verifier with its params fixed) and a fixed composite."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from verifiers.base import Context, NoParams, Verifier
from verifiers.composite import CompositeParams, CompositeVerifier
from verifiers.contract import Verdict
from verifiers.registry import Registry


class PresetVerifier(Verifier):
    """`base` with its params fixed; items send no params of their own."""

    Params = NoParams

    def __init__(self, name: str, version: int, description: str, base: Verifier, params: dict[str, Any]) -> None:
        self.name = name  # type: ignore[misc]
        self.version = version  # type: ignore[misc]
        self.description = description or f"{base.spec} with params {params}"  # type: ignore[misc]
        self.base = base
        self.base_params: BaseModel = base.parse_params(params)
        self.is_async = base.is_async  # type: ignore[misc]

    def identity(self) -> str:
        return f"{type(self).__qualname__} {getattr(self, 'source_hash', '')}"

    def config_key(self, params: BaseModel) -> str:
        # cached verdicts never outlive the definition, nor the base's server-side configuration
        return f"{getattr(self, 'source_hash', '')}|{self.base.config_key(self.base_params)}"

    def check_reference(self, reference: Any, params: BaseModel) -> Any:
        return self.base.check_reference(reference, self.base_params)

    def verify(self, completion: str, reference: Any, params: BaseModel, ctx: Context) -> Verdict:
        verdict = self.base.verify(completion, reference, self.base_params, ctx)
        verdict.details = {**verdict.details, "base": self.base.spec}
        return verdict

    async def averify(self, completion: str, reference: Any, params: BaseModel, ctx: Context) -> Verdict:
        verdict = await self.base.averify(completion, reference, self.base_params, ctx)
        verdict.details = {**verdict.details, "base": self.base.spec}
        return verdict


class FixedCompositeVerifier(Verifier):
    """A weighted sum whose parts are part of the definition; items send no params."""

    Params = NoParams

    def __init__(self, name: str, version: int, description: str, parts: CompositeParams) -> None:
        self.name = name  # type: ignore[misc]
        self.version = version  # type: ignore[misc]
        self.description = description or "composite of " + ", ".join(p.verifier for p in parts.parts)  # type: ignore[misc]
        self.parts = parts
        self._sum = CompositeVerifier()

    def identity(self) -> str:
        return f"{type(self).__qualname__} {getattr(self, 'source_hash', '')}"

    def config_key(self, params: BaseModel) -> str:
        return getattr(self, "source_hash", "")  # cached verdicts never outlive their definition

    def verify(self, completion: str, reference: Any, params: BaseModel, ctx: Context) -> Verdict:
        return self._sum.verify(completion, reference, self.parts, ctx)


def pin_verifier(registry: Registry, spec: str) -> str:
    """`math` -> `math@1` as the registry has it now: a registered definition never drifts."""
    return registry.resolve(spec).spec
