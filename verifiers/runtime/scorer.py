"""`Scorer`: a batch of items in, one verdict per item out, same order.

    items -> admission -> prepare (Task or invalid_input) -> dedup by key -> result cache
          -> sync tasks to the executor, async tasks (judge, GRM) on this event loop
          -> verdicts in the items' order

Long batches are prepared in slices that hand the event loop back every SLICE_S, so one
16,384-item request never stalls other requests or `/healthz`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable, Sequence
from typing import Any

import orjson

from verifiers.contract import Item, Verdict
from verifiers.registry import Registry
from verifiers.runtime.cache import ResultCache
from verifiers.runtime.executor import Executor
from verifiers.runtime.prepare import prepare
from verifiers.runtime.task import Task
from verifiers.runtime.worker import arun_task

SLICE_S = 0.005  # longest stretch of batch bookkeeping between two yields to the event loop


class Pacer:
    """Yields to the event loop when a loop over many items has held it for SLICE_S."""

    def __init__(self) -> None:
        self._since = time.perf_counter()

    async def tick(self) -> None:
        now = time.perf_counter()
        if now - self._since >= SLICE_S:
            await asyncio.sleep(0)
            self._since = time.perf_counter()


def _locality_key(task: Task) -> tuple[str, str]:
    # Tasks sharing a reference run back to back in one worker, so its parsed-reference caches hit.
    ref = task.reference
    return task.spec, ref if isinstance(ref, str) else orjson.dumps(ref, default=str).decode()


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

    async def score(self, items: Sequence[Item], timeout_s: float | None = None,
                    *, owner: Hashable | None = None) -> list[Verdict]:
        """Raises `Overloaded` (before any work) when the executor cannot take this batch now."""
        self.executor.admit(len(items))
        owner = owner if owner is not None else object()
        timeout_s = timeout_s or self.default_timeout_s
        verdicts: list[Verdict | None] = [None] * len(items)
        positions: dict[str, list[int]] = {}
        tasks: dict[str, Task] = {}
        pacer = Pacer()
        for index, item in enumerate(items):
            prepared = prepare(item, self.registry, timeout_s, self.max_completion_chars)
            if isinstance(prepared, Verdict):
                verdicts[index] = prepared
            else:
                key = prepared.key
                positions.setdefault(key, []).append(index)
                tasks.setdefault(key, prepared)
            await pacer.tick()

        hits = await self.cache.get_many(list(tasks)) if self.cache is not None else {}
        todo = {key: task for key, task in tasks.items() if key not in hits}
        fresh = await self._run(todo, owner)
        if self.cache is not None and fresh:
            await self.cache.put_many(fresh)

        for key, indexes in positions.items():
            cached = key in hits
            result = hits[key] if cached else fresh[key]
            if not cached and len(indexes) == 1:  # the common case: this verdict is ours alone
                result.id = items[indexes[0]].id
                verdicts[indexes[0]] = result
            else:
                for index in indexes:
                    verdicts[index] = result.model_copy(update={"id": items[index].id, "cached": cached})
            await pacer.tick()
        return verdicts  # type: ignore[return-value]

    async def _run(self, tasks: dict[str, Task], owner: Hashable) -> dict[str, Verdict]:
        sync_keys: list[str] = []
        async_keys: list[str] = []
        for key, task in tasks.items():
            (async_keys if self.registry.resolve(task.spec).is_async else sync_keys).append(key)
        sync_keys.sort(key=lambda k: _locality_key(tasks[k]))
        sync_run = self.executor.run([tasks[k] for k in sync_keys], owner=owner) if sync_keys else _none()
        async_run = asyncio.gather(*(arun_task(tasks[k], self.registry) for k in async_keys))
        sync_verdicts, async_verdicts = await asyncio.gather(sync_run, async_run)
        return dict(zip(sync_keys, sync_verdicts)) | dict(zip(async_keys, async_verdicts))


async def _none() -> list[Any]:
    return []
