"""Scoring a batch: validate, deduplicate, consult the cache, run, answer in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import orjson

from verifiers.base import Context
from verifiers.contract import Item, Status, Verdict
from verifiers.registry import Registry
from verifiers.runtime.cache import ResultCache
from verifiers.runtime.executor import Executor
from verifiers.scoring import Job, ascore_prepared, prepare


def _locality_key(job: Job) -> tuple[str, str]:
    # Jobs sharing a reference run back to back in one worker, so its parsed-reference caches hit.
    ref = job.reference
    return job.spec, ref if isinstance(ref, str) else orjson.dumps(ref, default=str).decode()


class Scorer:
    """Turns a list of items into a list of verdicts, the same length and order.

    Identical work (same key) is done once per batch and, through the cache, once across
    batches. CPU-bound verifiers go to the executor; async ones run on this event loop.
    """

    def __init__(
        self,
        registry: Registry,
        executor: Executor,
        cache: ResultCache | None = None,
        *,
        default_timeout_s: float = 10.0,
        max_completion_chars: int | None = None,
    ) -> None:
        self.registry = registry
        self.executor = executor
        self.cache = cache
        self.default_timeout_s = default_timeout_s
        self.max_completion_chars = max_completion_chars

    async def score(self, items: Sequence[Item], timeout_s: float | None = None) -> list[Verdict]:
        timeout_s = timeout_s or self.default_timeout_s
        verdicts: list[Verdict | None] = [None] * len(items)
        positions: dict[str, list[int]] = {}
        jobs: dict[str, Job] = {}
        for index, item in enumerate(items):
            prepared = prepare(item, self.registry, self.max_completion_chars)
            if isinstance(prepared, Verdict):
                verdicts[index] = prepared
                continue
            key = prepared.key
            positions.setdefault(key, []).append(index)
            jobs.setdefault(key, prepared)

        hits = await self.cache.get_many(list(jobs)) if self.cache is not None else {}
        todo = [key for key in jobs if key not in hits]
        fresh = await self._run({key: jobs[key] for key in todo}, timeout_s)
        if self.cache is not None and fresh:
            await self.cache.put_many(fresh)

        for key, indexes in positions.items():
            cached = key in hits
            result = hits[key] if cached else fresh[key]
            if not cached and len(indexes) == 1:  # the common case: this verdict is ours alone
                result.id = items[indexes[0]].id
                verdicts[indexes[0]] = result
                continue
            for index in indexes:
                verdicts[index] = result.model_copy(update={"id": items[index].id, "cached": cached})
        for index, verdict in enumerate(verdicts):
            assert verdict is not None
            if verdict.id is None and items[index].id is not None:
                verdict.id = items[index].id
        return verdicts  # type: ignore[return-value]

    async def _run(self, jobs: dict[str, Job], timeout_s: float) -> dict[str, Verdict]:
        sync_keys: list[str] = []
        async_keys: list[str] = []
        for key, job in jobs.items():
            (async_keys if self.registry.resolve(job.spec).is_async else sync_keys).append(key)
        sync_keys.sort(key=lambda k: _locality_key(jobs[k]))
        sync_run = self.executor.run([jobs[k] for k in sync_keys], timeout_s) if sync_keys else _none()
        async_run = asyncio.gather(*(self._run_async(jobs[k], timeout_s) for k in async_keys))
        sync_verdicts, async_verdicts = await asyncio.gather(sync_run, async_run)
        return dict(zip(sync_keys, sync_verdicts)) | dict(zip(async_keys, async_verdicts))

    async def _run_async(self, job: Job, timeout_s: float) -> Verdict:
        ctx = Context(registry=self.registry, deadline=time.monotonic() + timeout_s)
        try:
            return await asyncio.wait_for(ascore_prepared(job, ctx), timeout_s)
        except asyncio.TimeoutError:
            return Verdict.failed(Status.timeout, f"verifier ran past its deadline of {timeout_s:g}s",
                                  verifier=job.spec, elapsed_ms=timeout_s * 1000)


async def _none() -> list[Any]:
    return []
