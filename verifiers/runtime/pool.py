"""`ProcessPool`: the embedded executor, worker processes on this host with per-task deadlines.

Why not `concurrent.futures.ProcessPoolExecutor`: it cannot kill one overrunning task, and one
crashed worker breaks the whole pool (and every in-flight item with it). Here each worker has
its own socket; the parent streams chunks of tasks to idle workers, gets one verdict back per
task, and so always knows which task a worker is on and since when. A worker past its task's
deadline is SIGKILLed and replaced; the task gets `timeout`, the rest of its chunk is queued
again. Deadlines are enforced by killing processes, never by signals inside a thread.

Fairness: chunks are taken round-robin across owners (requests), and a chunk is sized to take
about TARGET_CHUNK_S by the running cost estimate of its verifier, so a small request waits for
at most one short chunk per worker, however large the batches ahead of it.

Usable outside the HTTP server: `await pool.start()`, `await pool.run(tasks)`, `await pool.close()`
on any event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing as mp
import os
import pickle
import socket
import time
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

import orjson

from verifiers.contract import Status, Verdict
from verifiers.registry import Registry, UnknownVerifierError, default_registry
from verifiers.runtime.executor import Overloaded, default_max_pending
from verifiers.runtime.finalize import finalize
from verifiers.runtime.task import Task
from verifiers.runtime.transport import Channel, ChannelClosed
from verifiers.runtime.worker import verdict_fields, verdict_from_fields, worker_main

log = logging.getLogger(__name__)

MAX_CHUNK_TASKS = 256
MAX_CHUNK_CHARS = 4_000_000  # bounds one frame, so a write never holds much memory at once
TARGET_CHUNK_S = 0.01  # how long a chunk should keep a worker busy, by the cost estimate
DEFAULT_TASK_COST_S = 0.002  # cost estimate of a verifier not seen yet
WATCHDOG_INTERVAL_S = 0.02
PUSH_SLICE = 1024


class _Batch:
    """The tasks of one `run` call: one future for all of them (cheaper than one per task)."""

    def __init__(self, size: int, owner: Hashable, plain: bool = False) -> None:
        self.results: list[Any] = [None] * size
        self.remaining = size
        self.owner = owner
        self.plain = plain  # answers are each verdict's JSON as a worker wrote it (`run_plain`), not Verdicts
        self.future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

    def resolve(self, index: int, answer: Any) -> bool:
        if self.future.done() or self.results[index] is not None:
            return False
        self.results[index] = answer
        self.remaining -= 1
        if self.remaining == 0:
            self.future.set_result(self.results)
        return True

    def made_here(self, verdict: Verdict) -> Any:
        """A verdict made in this process, as this batch answers."""
        return orjson.dumps(verdict_fields(verdict)) if self.plain else verdict


@dataclass(slots=True)
class _Pending:
    """A queued task, already encoded for a worker process: only what scheduling needs is kept."""

    spec: str
    timeout_s: float
    data: bytes  # the task's JSON, sent to a worker as is
    batch: _Batch
    index: int
    solo: bool = False  # runs in a chunk of its own, so a crash or overrun is surely its own

    @property
    def abandoned(self) -> bool:
        return self.batch.future.done()

    def resolve(self, verdict: Verdict) -> bool:
        """Answer with a verdict made here (a timeout, a crash, a shutdown)."""
        return self.batch.resolve(self.index, self.batch.made_here(verdict))

    def answer(self, line: bytes) -> bool:
        """Answer with the verdict JSON a worker process sent."""
        return self.batch.resolve(self.index, line if self.batch.plain else verdict_from_fields(orjson.loads(line)))


class FairQueue:
    """Queued tasks per owner, served round-robin; tasks to retry alone go first."""

    def __init__(self) -> None:
        self._owners: dict[Hashable, deque[_Pending]] = {}  # insertion order is the rotation
        self._retries: deque[_Pending] = deque()
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def push(self, owner: Hashable, pending: Sequence[_Pending]) -> None:
        self._owners.setdefault(owner, deque()).extend(pending)
        self.size += len(pending)

    def retry(self, pending: _Pending) -> None:
        self._retries.append(pending)
        self.size += 1

    def discard(self, batch: _Batch) -> None:
        """Forget the queued tasks of a cancelled call."""
        queue = self._owners.get(batch.owner)
        if queue is None:
            return
        kept = deque(p for p in queue if p.batch is not batch)
        self.size -= len(queue) - len(kept)
        if kept:
            self._owners[batch.owner] = kept
        else:
            del self._owners[batch.owner]

    def next_owner_queue(self) -> deque[_Pending] | None:
        """The queue whose turn it is, moved to the back of the rotation."""
        while self._owners:
            owner = next(iter(self._owners))
            queue = self._owners.pop(owner)
            if queue:
                self._owners[owner] = queue
                return queue
        return None

    def take_retry(self) -> _Pending | None:
        if self._retries:
            self.size -= 1
            return self._retries.popleft()
        return None

    def took(self, count: int) -> None:
        self.size -= count

    def drain(self) -> list[_Pending]:
        out = list(self._retries) + [p for q in self._owners.values() for p in q]
        self._retries.clear()
        self._owners.clear()
        self.size = 0
        return out


@dataclass
class _Worker:
    process: BaseProcess
    sock: socket.socket
    channel: Channel | None = None
    inflight: deque[tuple[int, _Pending]] = field(default_factory=deque)
    current_started: float = 0.0  # when the task at the head of `inflight` started

    @property
    def idle(self) -> bool:
        return not self.inflight


class ProcessPool:
    """The embedded executor: `workers` processes on this host (default: one per core).

    `registry` is what the workers run (default: the default registry, which the fork server
    already holds warm); any other registry is pickled to each worker when it starts.
    `max_pending` bounds queued plus running tasks (default: $REFEREE_MAX_PENDING_ITEMS).
    """

    def __init__(
        self,
        workers: int | None = None,
        memory_limit_mb: int | None = 4096,
        *,
        registry: Registry | None = None,
        max_pending: int | None = None,
        verifier_store: str | None = None,
    ) -> None:
        self.size = workers or os.cpu_count() or 1
        self.memory_limit_bytes = memory_limit_mb * 2**20 if memory_limit_mb else None
        self.registry = registry
        self.max_pending = max_pending if max_pending is not None else default_max_pending()
        self._registry_blob: bytes | None = None
        self.verifier_store = verifier_store  # runtime-registered verifiers, applied by every worker
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(["verifiers.runtime.preload"])
        self._workers: list[_Worker] = []
        self._queue = FairQueue()
        self._inflight = 0
        self._arriving = 0
        self._cost_s: dict[str, float] = {}
        self._next_slot = 0
        self._watchdog: asyncio.Task[None] | None = None
        self._respawns: set[asyncio.Task[None]] = set()
        self._closed = False
        self.restarts = {"timeout": 0, "crash": 0}

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.registry is not None and self.registry is not default_registry():
            try:
                self._registry_blob = pickle.dumps(self.registry)
            except Exception as exc:
                raise TypeError(f"the registry cannot be sent to worker processes ({exc}); define "
                                "verifiers at module level so that they can be pickled") from exc
        loop = asyncio.get_running_loop()
        workers = await asyncio.gather(*(loop.run_in_executor(None, self._spawn) for _ in range(self.size)))
        for worker in workers:
            self._attach(worker)
        self._watchdog = loop.create_task(self._watch())

    def ready(self) -> bool:
        return bool(self._workers) and not self._closed

    def pending(self) -> int:
        return len(self._queue) + self._inflight + self._arriving

    def readiness(self) -> dict[str, Any]:
        return {"ready": self.ready()}

    async def close(self) -> None:
        self._closed = True
        if self._watchdog:
            self._watchdog.cancel()
        for task in list(self._respawns):
            task.cancel()
        for worker in self._workers:
            if worker.channel is not None:
                worker.channel.close()  # the worker reads EOF and exits
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        abandoned = [p for w in self._workers for _, p in w.inflight] + self._queue.drain()
        for pending in abandoned:
            pending.resolve(finalize(Verdict.failed(Status.error, "executor shut down"), pending.spec, 0.0))
        self._inflight = 0
        self._workers.clear()

    def _spawn(self) -> _Worker:
        parent_sock, child_sock = socket.socketpair()
        process = self._ctx.Process(
            target=worker_main, args=(child_sock, self.memory_limit_bytes, self._registry_blob, self.verifier_store),
            daemon=True, name="referee-worker",
        )
        process.start()
        child_sock.close()
        return _Worker(process=process, sock=parent_sock)

    def _attach(self, worker: _Worker) -> None:
        if self._closed:
            worker.process.kill()
            worker.sock.close()
            return
        worker.channel = Channel(worker.sock, lambda frame: self._on_frame(worker, frame),
                                 lambda reason: self._on_worker_lost(worker, reason))
        self._workers.append(worker)
        self._dispatch()

    # -- admission -------------------------------------------------------------------------------

    def admit(self, count: int) -> None:
        pending = self.pending()
        if pending and pending + count > self.max_pending:
            raise Overloaded(
                f"server busy: {pending} items pending, {count} more would pass the limit of "
                f"{self.max_pending} (REFEREE_MAX_PENDING_ITEMS)", self._drain_estimate_s(pending))

    def _drain_estimate_s(self, pending: int) -> float:
        costs = self._cost_s.values()
        per_task = sum(costs) / len(costs) if costs else DEFAULT_TASK_COST_S
        return min(60.0, max(1.0, pending * per_task / max(1, len(self._workers))))

    # -- work ------------------------------------------------------------------------------------

    async def run(self, tasks: Sequence[Task], *, owner: Hashable | None = None) -> list[Verdict]:
        return await self._run(tasks, owner, plain=False)

    async def run_plain(self, tasks: Sequence[dict[str, Any]], *, owner: Hashable | None = None) -> list[bytes]:
        """`run` for tasks that are plain JSON already (`Task.to_plain()`, as a worker host reads them
        from Redis), answered with each verdict's JSON as the worker processes wrote it: neither is
        rebuilt into objects here. A task that is not valid is answered `error` by the worker."""
        return await self._run(tasks, owner, plain=True)

    async def _run(self, tasks: Sequence[Any], owner: Hashable | None, plain: bool) -> list[Any]:
        if self._closed:
            raise RuntimeError("executor is closed")
        if not tasks:
            return []
        self.admit(len(tasks))
        batch = _Batch(len(tasks), owner if owner is not None else object(), plain)
        self._arriving += len(tasks)  # admitted: counted as pending while they are being queued
        pushed = 0
        try:
            # Queued in slices: the first ones start at once, and the loop is never held long.
            while pushed < len(tasks):
                part = tasks[pushed:pushed + PUSH_SLICE]
                queued = [p for i, task in enumerate(part) if (p := _pending(task, batch, pushed + i)) is not None]
                self._queue.push(batch.owner, queued)
                pushed += len(part)
                self._arriving -= len(part)
                self._dispatch()
                if pushed < len(tasks):
                    await asyncio.sleep(0)
            return await batch.future
        except asyncio.CancelledError:  # the request went away: its queued tasks are dropped
            batch.future.cancel()
            self._queue.discard(batch)
            raise
        finally:
            self._arriving -= len(tasks) - pushed

    def _chunk_limit(self, queue: deque[_Pending]) -> int:
        # Small chunks when there is little work (latency, balance); big ones for throughput;
        # never much more than TARGET_CHUNK_S of work, so other requests get their turn soon.
        balance = math.ceil(len(queue) / (2 * max(1, len(self._workers))))
        spec = queue[0].spec
        cost = self._cost_s.get(spec, DEFAULT_TASK_COST_S)
        limit = max(1, min(MAX_CHUNK_TASKS, balance, int(TARGET_CHUNK_S / max(cost, 1e-6))))
        return max(limit, min(balance, self._batch_size(spec)))  # a per-batch cost is paid per chunk

    def _batch_size(self, spec: str) -> int:
        try:
            return (self.registry or default_registry()).resolve(spec).batch_size
        except UnknownVerifierError:
            return 1

    def _next_chunk(self) -> list[_Pending]:
        while (retry := self._queue.take_retry()) is not None:
            if not retry.abandoned:
                return [retry]
        while True:
            queue = self._queue.next_owner_queue()
            if queue is None:
                return []
            limit, chars, chunk, taken = self._chunk_limit(queue), 0, [], 0
            while queue and len(chunk) < limit and chars < MAX_CHUNK_CHARS:
                pending = queue.popleft()
                taken += 1
                if pending.abandoned:  # its request was cancelled
                    continue
                chars += len(pending.data)
                chunk.append(pending)
            self._queue.took(taken)
            if chunk:
                return chunk

    def _dispatch(self) -> None:
        for worker in self._workers:
            if not len(self._queue):
                return
            if not worker.idle or worker.channel is None:
                continue
            chunk = self._next_chunk()
            if not chunk:
                return
            encoded: list[bytes] = []
            for pending in chunk:
                slot = self._next_slot
                self._next_slot += 1
                encoded.append(b"[%d,%s]" % (slot, pending.data))
                worker.inflight.append((slot, pending))
            self._inflight += len(worker.inflight)
            try:
                worker.channel.send(b"[" + b",".join(encoded) + b"]")
            except ChannelClosed:
                self._on_worker_lost(worker, "worker pipe closed")
                return
            worker.current_started = time.monotonic()

    def _on_frame(self, worker: _Worker, frame: bytes) -> None:
        head, *lines = frame.split(b"\n")  # see the wire format in `worker`
        try:
            replies = orjson.loads(head)
            if len(replies) != len(lines):
                raise ValueError("verdicts missing")
        except (orjson.JSONDecodeError, TypeError, ValueError):
            self._on_worker_lost(worker, "unreadable reply")
            return
        costs = self._cost_s
        for (slot, elapsed_ms), line in zip(replies, lines):
            if not worker.inflight:
                break
            head_slot, pending = worker.inflight.popleft()
            self._inflight -= 1
            assert head_slot == slot, "worker answered out of order"
            pending.answer(line)
            spec = pending.spec
            cost = elapsed_ms / 1000
            costs[spec] = 0.8 * costs[spec] + 0.2 * cost if spec in costs else cost
        worker.current_started = time.monotonic()
        if worker.idle:
            self._dispatch()

    # -- failure handling ---------------------------------------------------------------------

    def _on_worker_lost(self, worker: _Worker, reason: str | None) -> None:
        """The worker died on its own (os._exit, segfault, OOM kill): its current task gets `error`."""
        if worker not in self._workers:
            return
        worker.process.join(0.5)
        code = worker.process.exitcode
        if code is not None and code != 0:
            reason = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        self.restarts["crash"] += 1
        self._replace(worker, Verdict.failed(Status.error, f"verifier process died ({reason or 'exited'})"))

    def _replace(self, worker: _Worker, verdict_for_current: Verdict) -> None:
        self._workers.remove(worker)
        if worker.channel is not None:
            worker.channel.close()
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(1.0)
        self._inflight -= len(worker.inflight)
        if len(worker.inflight) == 1:
            # Every other task of the chunk was answered: this one surely caused the failure.
            _, culprit = worker.inflight.popleft()
            culprit.resolve(finalize(verdict_for_current, culprit.spec, verdict_for_current.elapsed_ms))
        else:
            # A worker flushes verdicts in small groups, so which unanswered task failed is not
            # certain: run each of them again alone, where a repeat failure is surely its own.
            for _, pending in worker.inflight:
                pending.solo = True
                self._queue.retry(pending)
            worker.inflight.clear()
        if not self._closed:
            task = asyncio.get_running_loop().create_task(self._respawn())
            self._respawns.add(task)
            task.add_done_callback(self._respawns.discard)
        self._dispatch()

    async def _respawn(self) -> None:
        delay = 0.05
        while not self._closed:
            try:
                worker = await asyncio.get_running_loop().run_in_executor(None, self._spawn)
            except Exception:  # e.g. out of processes or memory for a moment: keep trying
                log.exception("could not start a worker process; retrying in %.2fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._attach(worker)
            return

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCHDOG_INTERVAL_S)
            now = time.monotonic()
            for worker in list(self._workers):
                if worker.inflight:
                    _, pending = worker.inflight[0]
                    budget = pending.timeout_s
                    overrun = now - worker.current_started - budget
                    if overrun > 0:
                        self.restarts["timeout"] += 1
                        msg = f"verifier ran past its deadline of {budget:g}s and was stopped"
                        self._replace(worker, Verdict.failed(Status.timeout, msg,
                                                             elapsed_ms=(now - worker.current_started) * 1000))
                elif not worker.process.is_alive():
                    self._on_worker_lost(worker, None)


def _pending(task: Task | dict[str, Any], batch: _Batch, index: int) -> _Pending | None:
    """The task encoded for a worker process; None when it cannot be, after answering it `error`."""
    if isinstance(task, Task):
        spec, timeout_s = task.spec, task.timeout_s
    else:
        spec, timeout_s = (task.get("spec"), task.get("timeout_s")) if isinstance(task, dict) else (None, None)
    try:
        if not isinstance(spec, str) or isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)):
            raise ValueError("not a task: spec must be a string and timeout_s a number")
        data = orjson.dumps(task)  # a Task is a dataclass: orjson writes it as `to_plain()` does
    except (TypeError, ValueError) as exc:  # e.g. a reference that is not plain JSON: this task alone fails
        failed = Verdict.failed(Status.error, f"task cannot be sent to a worker: {exc}")
        batch.resolve(index, batch.made_here(finalize(failed, str(spec or "?"), 0.0)))
        return None
    return _Pending(spec, float(timeout_s), data, batch, index)
