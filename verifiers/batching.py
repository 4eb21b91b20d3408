"""Scoring a run of jobs in one process, handing consecutive jobs of a batchable verifier over at once.

Most verifiers score one item at a time. A verifier with `batchable = True` (the sandboxed Python
verifier) has a `verify_batch(jobs, ctx)` that answers a prefix of the jobs it is given, so that
its per-batch cost (a sandbox run, an import) is paid once for many items.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence

from verifiers.base import Context, Verifier
from verifiers.contract import Item, Status, Verdict
from verifiers.registry import Registry, UnknownVerifierError
from verifiers.scoring import Job, ascore_prepared, prepare, score_prepared

MAX_BATCH = 256


def _batch_end(jobs: Sequence[Job], start: int) -> int:
    end = start + 1
    while end < len(jobs) and end - start < MAX_BATCH and jobs[end].spec == jobs[start].spec:
        end += 1
    return end


def score_jobs(jobs: Sequence[Job], registry: Registry, timeouts: Sequence[float]) -> Iterator[tuple[int, Verdict]]:
    """(index, verdict) for every job, in order, each as soon as it is known. Never raises for a job."""
    index = 0
    while index < len(jobs):
        job = jobs[index]
        try:
            verifier = registry.resolve(job.spec)
        except UnknownVerifierError as exc:
            yield index, Verdict.failed(Status.error, f"this worker cannot run {job.spec}: {exc}", verifier=job.spec)
            index += 1
            continue
        ctx = Context(registry=registry, deadline=time.monotonic() + timeouts[index])
        if getattr(verifier, "batchable", False):
            verdicts = _verify_batch(verifier, jobs[index:_batch_end(jobs, index)], ctx)
            for offset, verdict in enumerate(verdicts):
                yield index + offset, verdict
            index += len(verdicts)  # at least one; the rest go again with a fresh deadline
            continue
        if verifier.is_async:
            yield index, asyncio.run(ascore_prepared(job, ctx))
        else:
            yield index, score_prepared(job, ctx)
        index += 1


def _verify_batch(verifier: Verifier, jobs: Sequence[Job], ctx: Context) -> list[Verdict]:
    started = time.perf_counter()
    try:
        verdicts = verifier.verify_batch([(j.text, j.reference, j.params) for j in jobs], ctx)  # type: ignore[attr-defined]
        if not verdicts or len(verdicts) > len(jobs) or not all(isinstance(v, Verdict) for v in verdicts):
            raise TypeError(f"verify_batch answered {len(verdicts)} verdicts for {len(jobs)} jobs")
    except Exception as exc:  # errors are values at this boundary
        verdicts = [Verdict.failed(Status.error, f"{verifier.spec} raised {type(exc).__name__}: {str(exc)[:500]}")]
    share = (time.perf_counter() - started) * 1000 / len(verdicts)
    for verdict in verdicts:
        verdict.verifier = verdict.verifier or verifier.spec
        verdict.elapsed_ms = round(float(verdict.details.get("sandbox_ms", share)), 3)
    return verdicts


def score_items(items: Sequence[Item], registry: Registry, timeout_s: float) -> list[Verdict]:
    """Score items in this thread (no worker pool): for checks that run before a verifier is live."""
    verdicts: list[Verdict | None] = [None] * len(items)
    jobs, positions = [], []
    for index, item in enumerate(items):
        prepared = prepare(item, registry)
        if isinstance(prepared, Verdict):
            verdicts[index] = prepared
        else:
            jobs.append(prepared)
            positions.append(index)
    for job_index, verdict in score_jobs(jobs, registry, [timeout_s] * len(jobs)):
        verdict.id = items[positions[job_index]].id
        verdicts[positions[job_index]] = verdict
    return verdicts  # type: ignore[return-value]
