"""Collects items from concurrent requests into batches for one model call.

A single worker task takes the first waiting item, then keeps collecting until the batch is
full or `max_wait_s` has passed since that first item, and runs the batch in a thread so the
event loop keeps answering health checks. One batch runs at a time: the model is the bottleneck,
and two concurrent `generate` calls on one device only fight over it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


class QueueFullError(RuntimeError):
    """More items are waiting than the service accepts; the client should retry later."""


@dataclass(frozen=True)
class BatchInfo:
    id: int
    size: int


@dataclass
class _Waiting(Generic[Job, Result]):
    job: Job
    future: asyncio.Future[tuple[Result, BatchInfo]]


StopCheck = Callable[[], bool]


class Batcher(Generic[Job, Result]):
    """`run_batch(jobs, should_stop)` runs in a thread; `should_stop()` turns true when the
    batcher closes or every request waiting on the batch has gone, so long work can end early."""

    def __init__(self, run_batch: Callable[[list[Job], StopCheck], Sequence[Result]], *,
                 max_batch: int, max_wait_s: float, max_queue: int,
                 cost: Callable[[Job], int] = lambda job: 1) -> None:
        self.run_batch = run_batch
        self.max_batch = max_batch  # in cost units: sequences generated together
        self.cost = cost
        self._carry: _Waiting[Job, Result] | None = None  # taken but did not fit: opens the next batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self._queue: asyncio.Queue[_Waiting[Job, Result]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._batch_ids = itertools.count(1)
        self._closing = False
        self.batches_run = 0
        self.items_run = 0

    @property
    def waiting(self) -> int:
        return (self._queue.qsize() if self._queue else 0) + (self._carry is not None)

    def _ensure_worker(self) -> asyncio.Queue[_Waiting[Job, Result]]:
        # Started lazily on the loop that first submits, so the batcher works with or without
        # an ASGI lifespan (and in tests driving the app directly).
        if self._worker is None or self._worker.done():
            self._queue, self._carry = asyncio.Queue(), None
            self._worker = asyncio.get_running_loop().create_task(self._run(self._queue))
        assert self._queue is not None
        return self._queue

    async def submit(self, jobs: Sequence[Job]) -> list[tuple[Result, BatchInfo]]:
        """Queue all jobs of one request and wait for their results, in order."""
        queue = self._ensure_worker()
        if queue.qsize() + len(jobs) > self.max_queue:
            raise QueueFullError(f"{queue.qsize()} items are waiting and this request adds {len(jobs)}; "
                                 f"the queue holds at most {self.max_queue}")
        loop = asyncio.get_running_loop()
        waiting = [_Waiting(job, loop.create_future()) for job in jobs]
        for w in waiting:
            queue.put_nowait(w)
        try:
            return list(await asyncio.gather(*(w.future for w in waiting)))
        except asyncio.CancelledError:
            for w in waiting:
                w.future.cancel()  # not yet started items are skipped by the worker
            raise

    async def close(self) -> None:
        self._closing = True  # a batch running in its thread sees this through should_stop
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None

    async def _collect(self, queue: asyncio.Queue[_Waiting[Job, Result]]) -> list[_Waiting[Job, Result]]:
        loop = asyncio.get_running_loop()
        first, self._carry = self._carry or await queue.get(), None
        batch, load = [first], self.cost(first.job)  # a job costlier than a whole batch runs alone
        deadline = loop.time() + self.max_wait_s
        while load < self.max_batch:
            if not queue.empty():
                waiting = queue.get_nowait()
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    waiting = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
            if load + self.cost(waiting.job) > self.max_batch:
                self._carry = waiting
                break
            batch.append(waiting)
            load += self.cost(waiting.job)
        return [w for w in batch if not w.future.done()]

    async def _run(self, queue: asyncio.Queue[_Waiting[Job, Result]]) -> None:
        while True:
            batch = await self._collect(queue)
            if not batch:
                continue
            info = BatchInfo(id=next(self._batch_ids), size=len(batch))

            def should_stop(batch: list[_Waiting[Job, Result]] = batch) -> bool:
                return self._closing or all(w.future.done() for w in batch)

            try:
                results = await asyncio.to_thread(self.run_batch, [w.job for w in batch], should_stop)
                if len(results) != len(batch):
                    raise RuntimeError(f"batch of {len(batch)} items returned {len(results)} results")
            except Exception as exc:  # the whole batch failed: every waiting request hears why
                for w in batch:
                    if not w.future.done():
                        w.future.set_exception(exc)
                continue
            self.batches_run += 1
            self.items_run += len(batch)
            for w, result in zip(batch, results):
                if not w.future.done():
                    w.future.set_result((result, info))
