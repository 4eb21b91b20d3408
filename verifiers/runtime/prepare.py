"""From an `Item` to a `Task`: validation up front, so bad items never reach a worker.

A bad item (unknown verifier, bad params, no assistant turn, an oversized completion, a reference
of the wrong shape) becomes an `invalid_input` verdict with the reason instead of an exception.
"""

from __future__ import annotations

from pydantic import ValidationError

from verifiers.contract import Item, Status, Verdict, completion_text
from verifiers.registry import Registry, UnknownVerifierError
from verifiers.runtime.finalize import finalize
from verifiers.runtime.task import Task
from verifiers.validation import first_error


def prepare(item: Item, registry: Registry, timeout_s: float,
            max_completion_chars: int | None = None) -> Task | Verdict:
    """A task ready to run anywhere, or the `invalid_input` verdict saying why not."""
    try:
        verifier = registry.resolve(item.verifier)
    except UnknownVerifierError as exc:
        return _invalid(item, str(exc), None)
    spec = verifier.spec
    try:
        params = verifier.parse_params(item.params)
    except ValidationError as exc:
        return _invalid(item, f"bad params for {spec}: {first_error(exc, 'params')}", spec)
    try:
        text = completion_text(item.completion)
    except ValueError as exc:
        return _invalid(item, str(exc), spec)
    if max_completion_chars is not None and len(text) > max_completion_chars:
        return _invalid(item, f"completion has {len(text)} characters, over the limit "
                              f"max_completion_chars={max_completion_chars}", spec)
    try:
        reference = verifier.check_reference(item.reference, params)
    except (ValueError, TypeError, ValidationError) as exc:
        return _invalid(item, f"bad reference for {spec}: {exc}", spec)
    except Exception as exc:  # a plugin's check_reference crashed: this item fails, not the request
        return _invalid(item, f"{spec} could not check the reference: {type(exc).__name__}: {exc}", spec)
    try:
        config = verifier.config_key(params)
    except Exception as exc:
        config = f"unusable: {type(exc).__name__}"
    return Task(spec=spec, fingerprint=registry.fingerprint, text=text, reference=reference,
                params=item.params, timeout_s=timeout_s, group=item.group, config=config)


def _invalid(item: Item, message: str, spec: str | None) -> Verdict:
    verdict = finalize(Verdict.failed(Status.invalid_input, message), spec, 0.0)
    verdict.id = item.id
    return verdict
