"""The in-process Python API: score one item without a server."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from verifiers.contract import ChatMessage, Item, Status, Verdict
from verifiers.registry import Registry, UnknownVerifierError, default_registry
from verifiers.runtime.finalize import finalize
from verifiers.runtime.prepare import prepare
from verifiers.runtime.worker import run_task
from verifiers.validation import first_error


def verify(
    verifier: str,
    completion: str | list[ChatMessage] | list[dict[str, Any]],
    reference: Any = None,
    params: dict[str, Any] | None = None,
    *,
    timeout_s: float = 30.0,
    registry: Registry | None = None,
) -> Verdict:
    """Score one completion in this process and return its `Verdict`.

    The verifier runs in the calling thread (no signals are used, so any thread or event loop
    is fine). `timeout_s` is passed to the verifier as its deadline; to have an overrunning
    verifier killed, score through a `verifiers.runtime.LocalScorer` or the HTTP service.
    """
    registry = registry or default_registry()
    try:
        item = Item(verifier=verifier, completion=completion, reference=reference, params=params or {})
    except ValidationError as exc:
        return finalize(Verdict.failed(Status.invalid_input, f"invalid item: {first_error(exc)}"), None, 0.0)
    prepared = prepare(item, registry, timeout_s)
    if isinstance(prepared, Verdict):
        return prepared
    return run_task(prepared, registry)


__all__ = ["verify", "UnknownVerifierError"]
