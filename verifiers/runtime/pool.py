"""A pool of worker processes with per-job deadlines.

Why not `concurrent.futures.ProcessPoolExecutor`: it cannot kill one overrunning task, and one
crashed worker breaks the whole pool (and every in-flight item with it). Here each worker has
its own pipe; the parent streams chunks of jobs to idle workers, gets one verdict back per job,
and so always knows which job a worker is on and since when. A worker past its job's deadline is
SIGKILLed and replaced; the job gets `timeout`, the rest of its chunk is queued again.
Deadlines are enforced by killing processes, never by signals inside a thread.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from verifiers.contract import Status, Verdict
from verifiers.runtime.worker import to_wire, worker_main
from verifiers.scoring import Job

log = logging.getLogger(__name__)

MAX_CHUNK_JOBS = 256
MAX_CHUNK_CHARS = 4_000_000  # keeps one pipe write short, so the event loop is never blocked long
WATCHDOG_INTERVAL_S = 0.02


class _Batch:
    """The jobs of one `run` call: one future for all of them (cheaper than one per job)."""

    def __init__(self, size: int) -> None:
        self.results: list[Verdict | None] = [None] * size
        self.remaining = size
        self.future: asyncio.Future[list[Verdict]] = asyncio.get_running_loop().create_future()


@dataclass
class _Task:
    job: Job
    timeout_s: float
    batch: _Batch
    index: int
    solo: bool = False  # runs in a chunk of its own, so a crash or overrun is surely its own

    @property
    def abandoned(self) -> bool:
        return self.batch.future.done()

    def resolve(self, verdict: Verdict) -> None:
        batch = self.batch
        if batch.future.done() or batch.results[self.index] is not None:
            return
        batch.results[self.index] = verdict
        batch.remaining -= 1
        if batch.remaining == 0:
            batch.future.set_result(batch.results)  # type: ignore[arg-type]


def _verdict_from_wire(fields: dict) -> Verdict:
    """Rebuild a Verdict that a worker built and validated: skip validation (5-10x cheaper)."""
    verdict = Verdict.__new__(Verdict)
    object.__setattr__(verdict, "__dict__", fields)
    object.__setattr__(verdict, "__pydantic_fields_set__", set(fields))
    object.__setattr__(verdict, "__pydantic_extra__", None)
    object.__setattr__(verdict, "__pydantic_private__", None)
    return verdict


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    inflight: deque[tuple[int, _Task]] = field(default_factory=deque)
    current_started: float = 0.0  # when the job at the head of `inflight` started

    @property
    def idle(self) -> bool:
        return not self.inflight


class ProcessPool:
    """The embedded executor: `workers` processes on this host (default: one per core)."""

    def __init__(
        self,
        workers: int | None = None,
        memory_limit_mb: int | None = 4096,
        verifier_store: str | None = None,
    ) -> None:
        self.size = workers or os.cpu_count() or 1
        self.memory_limit_bytes = memory_limit_mb * 2**20 if memory_limit_mb else None
        self.verifier_store = verifier_store  # runtime-registered verifiers, applied by every worker
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(["verifiers.runtime.preload"])
        self._workers: list[_Worker] = []
        self._pending: deque[_Task] = deque()
        self._next_slot = 0
        self._watchdog: asyncio.Task[None] | None = None
        self._respawns: set[asyncio.Task[None]] = set()
        self._closed = False
        self.restarts = {"timeout": 0, "crash": 0}

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        workers = await asyncio.gather(*(loop.run_in_executor(None, self._spawn) for _ in range(self.size)))
        for worker in workers:
            self._attach(worker)
        self._watchdog = loop.create_task(self._watch())

    def ready(self) -> bool:
        return bool(self._workers) and not self._closed

    async def close(self) -> None:
        self._closed = True
        if self._watchdog:
            self._watchdog.cancel()
        for task in list(self._respawns):
            task.cancel()
        for worker in self._workers:
            self._detach(worker)
            try:
                worker.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        abandoned = [t for w in self._workers for _, t in w.inflight] + list(self._pending)
        for task in abandoned:
            task.resolve(Verdict.failed(Status.error, "executor shut down"))
        self._pending.clear()
        self._workers.clear()

    def _spawn(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=worker_main, args=(child_conn, self.memory_limit_bytes, self.verifier_store), daemon=True, name="referee-worker"
        )
        process.start()
        child_conn.close()
        return _Worker(process=process, conn=parent_conn)

    def _attach(self, worker: _Worker) -> None:
        if self._closed:
            worker.process.kill()
            return
        self._workers.append(worker)
        asyncio.get_running_loop().add_reader(worker.conn.fileno(), self._on_readable, worker)
        self._dispatch()

    def _detach(self, worker: _Worker) -> None:
        try:
            asyncio.get_running_loop().remove_reader(worker.conn.fileno())
        except (ValueError, OSError):
            pass

    # -- work ------------------------------------------------------------------------------------

    async def run(self, jobs: Sequence[Job], timeout_s: float) -> list[Verdict]:
        if self._closed:
            raise RuntimeError("executor is closed")
        if not jobs:
            return []
        batch = _Batch(len(jobs))
        self._pending.extend(_Task(job, timeout_s, batch, i) for i, job in enumerate(jobs))
        self._dispatch()
        return await batch.future

    def _chunk_size(self) -> int:
        # Small chunks when there is little work (latency, balance); big ones for throughput.
        return max(1, min(MAX_CHUNK_JOBS, math.ceil(len(self._pending) / (4 * max(1, len(self._workers))))))

    def _dispatch(self) -> None:
        for worker in self._workers:
            if not self._pending:
                return
            if not worker.idle:
                continue
            limit, chars = self._chunk_size(), 0
            while self._pending and len(worker.inflight) < limit and chars < MAX_CHUNK_CHARS:
                if self._pending[0].solo and worker.inflight:
                    break
                task = self._pending.popleft()
                if task.abandoned:  # its request was cancelled
                    continue
                chars += len(task.job.text)
                worker.inflight.append((self._next_slot, task))
                self._next_slot += 1
                if task.solo:
                    break
            if not worker.inflight:
                continue
            try:
                worker.conn.send([to_wire(slot, task.job, task.timeout_s) for slot, task in worker.inflight])
            except OSError:
                self._on_worker_lost(worker, "worker pipe closed")
                return
            worker.current_started = time.monotonic()

    def _on_readable(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                for slot, fields in worker.conn.recv():
                    head_slot, task = worker.inflight.popleft()
                    assert head_slot == slot, "worker answered out of order"
                    task.resolve(_verdict_from_wire(fields))
                worker.current_started = time.monotonic()
        except (EOFError, OSError):
            self._on_worker_lost(worker, None)
            return
        if worker.idle:
            self._dispatch()

    # -- failure handling ---------------------------------------------------------------------

    def _on_worker_lost(self, worker: _Worker, reason: str | None) -> None:
        """The worker died on its own (os._exit, segfault, OOM kill): its current job gets `error`."""
        if worker not in self._workers:
            return
        worker.process.join(0.5)
        code = worker.process.exitcode
        cause = reason or (f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}")
        self.restarts["crash"] += 1
        self._replace(worker, Verdict.failed(Status.error, f"verifier process died ({cause})"))

    def _replace(self, worker: _Worker, verdict_for_current: Verdict) -> None:
        self._detach(worker)
        self._workers.remove(worker)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(1.0)
        worker.conn.close()
        if len(worker.inflight) == 1:
            # Every other job of the chunk was answered: this one surely caused the failure.
            _, culprit = worker.inflight.popleft()
            verdict_for_current.verifier = culprit.job.spec
            culprit.resolve(verdict_for_current)
        else:
            # A worker flushes verdicts in small groups, so which unanswered job failed is not
            # certain: run each of them again alone, where a repeat failure is surely its own.
            for _, task in reversed(worker.inflight):
                task.solo = True
                self._pending.appendleft(task)
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
                    _, task = worker.inflight[0]
                    overrun = now - worker.current_started - task.timeout_s
                    if overrun > 0:
                        self.restarts["timeout"] += 1
                        msg = f"verifier ran past its deadline of {task.timeout_s:g}s and was stopped"
                        self._replace(worker, Verdict.failed(Status.timeout, msg, elapsed_ms=(now - worker.current_started) * 1000))
                elif not worker.process.is_alive():
                    self._on_worker_lost(worker, None)
