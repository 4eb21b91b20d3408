"""From a registration spec to a live verifier (and the pinning that keeps it immutable)."""

from __future__ import annotations

from verifiers.base import Verifier
from verifiers.composite import CompositeParams
from verifiers.custom.declarative import FixedCompositeVerifier, PresetVerifier
from verifiers.custom.python_verifier import SandboxedPythonVerifier
from verifiers.custom.spec import CompositeSpec, PresetSpec, PythonSpec
from verifiers.registry import Registry

Spec = PresetSpec | CompositeSpec | PythonSpec


def pinned(spec: Spec, registry: Registry) -> Spec:
    """The spec with every verifier it builds on named as `name@version`, as `registry` has it now.

    A registered `name@version` must score tomorrow as it does today, even after `math` moves on.
    Raises UnknownVerifierError for a verifier that does not exist.
    """
    if isinstance(spec, PresetSpec):
        return spec.model_copy(update={"base": registry.resolve(spec.base).spec})
    if isinstance(spec, CompositeSpec):
        parts = [p.model_copy(update={"verifier": registry.resolve(p.verifier).spec, "name": p.component})
                 for p in spec.parts]
        return spec.model_copy(update={"parts": parts})
    return spec


def build_verifier(spec: Spec, registry: Registry) -> Verifier:
    """A verifier for a (pinned) spec; ValueError / UnknownVerifierError if it cannot be built."""
    verifier = _build(spec, registry)
    verifier.source_hash = spec.source_hash  # type: ignore[attr-defined]  # part of the registry fingerprint
    return verifier


def _build(spec: Spec, registry: Registry) -> Verifier:
    if isinstance(spec, PresetSpec):
        base = registry.resolve(spec.base)
        if base.name == "composite" or isinstance(base, (PresetVerifier, FixedCompositeVerifier)):
            raise ValueError(f"a preset fixes the params of a built-in verifier, not of {base.spec}; "
                             "register a composite instead")
        return PresetVerifier(spec.name, spec.version, spec.description, base, spec.params)
    if isinstance(spec, CompositeSpec):
        params = CompositeParams(parts=spec.parts)
        for part in params.parts:
            verifier = registry.resolve(part.verifier)
            if verifier.name == "composite" or isinstance(verifier, FixedCompositeVerifier):
                raise ValueError(f"part {part.component!r}: composites cannot nest")
            verifier.parse_params(part.params)  # raises pydantic.ValidationError (a ValueError)
        return FixedCompositeVerifier(spec.name, spec.version, spec.description, params)
    return SandboxedPythonVerifier(spec.name, spec.version, spec.description, spec.source, spec.entry,
                                   spec.params_schema, spec.memory_mb, spec.time_budget_ms, spec.source_hash)
