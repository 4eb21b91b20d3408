"""Turning one `Item` into one `Verdict`: validation up front, then a guarded call of the verifier."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from verifiers.base import Context, Verifier
from verifiers.contract import Item, Status, Verdict, completion_text
from verifiers.registry import Registry, UnknownVerifierError


@dataclass(slots=True)
class Job:
    """A validated item, ready to run anywhere (the verifier by spec, params as a model)."""

    spec: str
    text: str
    reference: Any
    params: BaseModel
    raw_params: dict[str, Any] = field(default_factory=dict)  # as sent; cheaper to hash and ship than the model

    @property
    def key(self) -> str:
        """Identity of the work: same key, same verdict (for dedup inside a batch and the result cache)."""
        payload = orjson.dumps(
            [self.spec, self.raw_params, self.reference, self.text], option=orjson.OPT_SORT_KEYS, default=str
        )
        return hashlib.blake2b(payload, digest_size=20).hexdigest()


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "params"
    return f"{where}: {err['msg']}"


def prepare(item: Item, registry: Registry, max_completion_chars: int | None = None) -> Job | Verdict:
    """Validate an item; a bad one becomes an `invalid_input` verdict instead of an exception."""
    try:
        verifier = registry.resolve(item.verifier)
    except UnknownVerifierError as exc:
        return Verdict.failed(Status.invalid_input, str(exc), id=item.id)
    try:
        params = verifier.parse_params(item.params)
    except ValidationError as exc:
        return Verdict.failed(Status.invalid_input, f"bad params for {verifier.spec}: {_first_error(exc)}",
                              id=item.id, verifier=verifier.spec)
    try:
        text = completion_text(item.completion)
    except ValueError as exc:
        return Verdict.failed(Status.invalid_input, str(exc), id=item.id, verifier=verifier.spec)
    if max_completion_chars is not None and len(text) > max_completion_chars:
        return Verdict.failed(
            Status.invalid_input,
            f"completion has {len(text)} characters, over the limit max_completion_chars={max_completion_chars}",
            id=item.id, verifier=verifier.spec)
    try:
        reference = verifier.check_reference(item.reference, params)
    except (ValueError, TypeError, ValidationError) as exc:
        return Verdict.failed(Status.invalid_input, f"bad reference for {verifier.spec}: {exc}",
                              id=item.id, verifier=verifier.spec)
    return Job(spec=verifier.spec, text=text, reference=reference, params=params, raw_params=item.params)


def _stamp(verdict: Verdict, verifier: Verifier, started: float) -> Verdict:
    verdict.verifier = verdict.verifier or verifier.spec
    verdict.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    return verdict


def _crashed(verifier: Verifier, exc: BaseException) -> Verdict:
    return Verdict.failed(Status.error, f"{verifier.spec} raised {type(exc).__name__}: {str(exc)[:500]}")


def score_prepared(job: Job, ctx: Context) -> Verdict:
    """Run a sync verifier on one job; exceptions (MemoryError, RecursionError …) become `error`."""
    verifier = ctx.registry.resolve(job.spec)
    started = time.perf_counter()
    try:
        verdict = verifier.verify(job.text, job.reference, job.params, ctx)
    except Exception as exc:  # errors are values at this boundary
        verdict = _crashed(verifier, exc)
    return _stamp(verdict, verifier, started)


async def ascore_prepared(job: Job, ctx: Context) -> Verdict:
    """Run an async (I/O-bound) verifier on one job on the current event loop."""
    verifier = ctx.registry.resolve(job.spec)
    started = time.perf_counter()
    try:
        verdict = await verifier.averify(job.text, job.reference, job.params, ctx)
    except Exception as exc:
        verdict = _crashed(verifier, exc)
    return _stamp(verdict, verifier, started)
