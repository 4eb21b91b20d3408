"""The API side of the Redis runtime: tasks go out on a stream in chunks, verdicts come back on a list.

One `RedisExecutor` per API process. `run` puts the request's tasks in a local outbox, one queue
per owner; a submitter turns them into chunks (round-robin across owners, so a small request is
not stuck behind a huge one) and keeps only a window of chunks waiting on the stream: the rest of
the backlog stays here, where fairness is still possible. Workers announce when they start a chunk
and push its verdicts to this process's reply list; a reader puts each verdict back in its place.

Nothing waits forever: a task that no worker starts within `queue_timeout_s` gets `timeout` saying
it never started, and a chunk whose worker stopped heartbeating and that no other worker took over
within the same budget gets `timeout` too. While Redis is unreachable, `run` raises `Unavailable`
at once (HTTP 503) and the requests in flight fail the same way; every loop keeps retrying, so the
process recovers by itself when Redis returns.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aioredis

from verifiers.contract import Status, Verdict
from verifiers.runtime.executor import Overloaded, Unavailable, default_max_pending
from verifiers.runtime.finalize import finalize
from verifiers.runtime.redis.protocol import GROUP, REDIS_DOWN, Chunk, Keys, connect, describe, ensure_group
from verifiers.runtime.task import Task
from verifiers.runtime.worker import verdict_from_fields

if TYPE_CHECKING:
    from verifiers.runtime.redis.worker import RedisWorker

log = logging.getLogger(__name__)

MAX_CHUNK_TASKS = 256
MONITOR_INTERVAL_S = 0.5
WORKER_HEARTBEAT_TTL_S = 5.0  # a worker silent this long counts as gone
REGISTRY_CHANGE_GRACE_S = 10.0  # after a runtime registration, how long workers still on the old registry count
REPLY_TTL_S = 3600  # a reply list outlives its API process by at most this long


class _Batch:
    """The tasks of one `run` call and the future that answers it."""

    def __init__(self, size: int) -> None:
        self.results: list[Verdict | None] = [None] * size
        self.remaining = size
        self.arrived = time.monotonic()
        self.future: asyncio.Future[list[Verdict]] = asyncio.get_running_loop().create_future()

    @property
    def done(self) -> bool:
        return self.future.done()

    def resolve(self, index: int, verdict: Verdict) -> None:
        if self.future.done() or self.results[index] is not None:
            return  # a duplicate (a reclaimed chunk answered twice): the first verdict stands
        self.results[index] = verdict
        self.remaining -= 1
        if self.remaining == 0:
            self.future.set_result(self.results)  # type: ignore[arg-type]

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


@dataclass(slots=True)
class _Slot:
    batch: _Batch
    index: int
    task: Task


@dataclass
class _Sent:
    """A chunk on the stream, as this process tracks it."""

    slots: list[_Slot]
    expires_at: float  # monotonic; past it, a chunk no worker started is answered `timeout`
    started_by: str | None = None
    orphaned_since: float | None = None  # when its worker stopped heartbeating


@dataclass
class ClusterState:
    """What the monitor last saw in Redis."""

    redis_ok: bool = False
    error: str = "not connected to Redis yet"
    queued: int = 0  # tasks on the stream not yet answered, from every API process
    stream_entries: int = 0
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)  # live worker id -> its info
    stats: dict[str, int] = field(default_factory=dict)

    def matching_workers(self, fingerprint: str) -> dict[str, dict[str, Any]]:
        return {w: info for w, info in self.workers.items() if info.get("fingerprint") == fingerprint}


class RedisExecutor:
    """Runs tasks on `referee worker` processes that share a Redis with this API process."""

    def __init__(
        self,
        url: str,
        fingerprint: Callable[[], str],
        *,
        keys: Keys | None = None,
        max_pending: int | None = None,
        queue_timeout_s: float = 60.0,
        client: aioredis.Redis | None = None,
        local_worker: RedisWorker | None = None,
    ) -> None:
        self.url = url
        self.local_worker = local_worker  # a worker this process hosts beside the API (optional)
        self._fingerprint = fingerprint  # of the registry tasks are checked against (it may change at runtime)
        self._known_fingerprint: str | None = None
        self._fingerprint_changed_at = -REGISTRY_CHANGE_GRACE_S
        self.keys = keys or Keys()
        self.max_pending = max_pending if max_pending is not None else default_max_pending()
        self.queue_timeout_s = queue_timeout_s
        self.api_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.reply_key = self.keys.replies(self.api_id)
        self.state = ClusterState()
        self._client = client
        self._outbox: OrderedDict[Hashable, deque[_Slot]] = OrderedDict()
        self._outbox_size = 0
        self._sent: dict[str, _Sent] = {}
        self._waiting_chunks = 0  # sent and not yet started: the window on the stream
        self._local_pending = 0
        self._submitted_since_monitor = 0
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._local_worker_run: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def fingerprint(self) -> str:
        return self._fingerprint()

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            self._client = connect(self.url)
        return self._client

    # -- the executor contract ------------------------------------------------------------------

    async def start(self) -> None:
        """Starts the loops; returns at once, even while Redis is unreachable (`ready` says so)."""
        self._loops = [asyncio.create_task(loop(), name=f"redis-executor-{loop.__name__}")
                       for loop in (self._monitor, self._reader, self._submitter)]
        if self.local_worker is not None:
            await self.local_worker.pool.start()
            self._local_worker_run = asyncio.create_task(self.local_worker.run(), name="redis-local-worker")
        await self._refresh_state()

    def ready(self) -> bool:
        return self.state.redis_ok and bool(self._live_workers())

    def _live_workers(self) -> dict[str, dict[str, Any]]:
        """Live workers that can run this process's tasks: those with its registry fingerprint.

        Right after this registry changed (a verifier registered or retired at runtime), workers
        still announce the previous fingerprint until their next reload; a worker handed a task
        with a newer fingerprint reloads from the shared store first, so for a short grace they
        all count, and a registration never turns the service unready."""
        fingerprint = self.fingerprint
        now = time.monotonic()
        if fingerprint != self._known_fingerprint:
            if self._known_fingerprint is not None:
                self._fingerprint_changed_at = now
            self._known_fingerprint = fingerprint
        live = self.state.matching_workers(fingerprint)
        if not live and now - self._fingerprint_changed_at < REGISTRY_CHANGE_GRACE_S:
            return self.state.workers
        return live

    def readiness(self) -> dict[str, Any]:
        state = self.state
        live = self._live_workers()
        body: dict[str, Any] = {"ready": self.ready(), "redis": "ok" if state.redis_ok else state.error,
                                "workers": len(live), "processes": sum(int(i.get("processes", 0)) for i in live.values())}
        if not state.redis_ok:
            body["reason"] = f"Redis is unreachable: {state.error}"
        elif not live:
            strangers = len(state.workers) - len(live)
            body["reason"] = "no live workers" + (
                f" with this registry ({self.fingerprint}); {strangers} live worker(s) run another" if strangers else "")
        return body

    def pending(self) -> int:
        return self._local_pending

    def admit(self, count: int) -> None:
        if not self.state.redis_ok:
            raise Unavailable(f"Redis is unreachable: {self.state.error}", retry_after_s=1.0)
        depth = max(0, self.state.queued) + self._submitted_since_monitor + self._outbox_size
        if depth > 0 and depth + count > self.max_pending:
            raise Overloaded(f"the shared queue holds {depth} tasks; {count} more would pass the bound "
                             f"of {self.max_pending}", retry_after_s=1.0)

    async def run(self, tasks: Sequence[Task], *, owner: Hashable | None = None) -> list[Verdict]:
        if self._closed:
            raise RuntimeError("executor is closed")
        if not tasks:
            return []
        self.admit(len(tasks))
        batch = _Batch(len(tasks))
        queue = self._outbox.setdefault(owner if owner is not None else object(), deque())
        queue.extend(_Slot(batch, i, t) for i, t in enumerate(tasks))
        self._outbox_size += len(tasks)
        self._local_pending += len(tasks)
        self._wake.set()
        try:
            return await batch.future
        finally:
            self._local_pending -= len(tasks)

    async def close(self) -> None:
        self._closed = True
        if self.local_worker is not None and self._local_worker_run is not None:
            self.local_worker.stop()
            await self._local_worker_run
            await self.local_worker.pool.close()
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._fail_all(Unavailable("the service is shutting down", retry_after_s=1.0))
        if self._client is not None:
            try:
                await self.client.delete(self.reply_key)
                await self.client.zrem(self.keys.apis, self.api_id)
            except REDIS_DOWN:
                pass
            await self._client.aclose()

    # -- submitting -----------------------------------------------------------------------------

    def _window(self) -> int:
        """Chunks that may wait on the stream at once: enough to keep every worker process busy."""
        processes = sum(int(i.get("processes", 1)) for i in self.state.workers.values())
        return max(4, 2 * processes)

    def _chunk_size(self) -> int:
        processes = max(1, sum(int(i.get("processes", 1)) for i in self.state.workers.values()))
        return max(1, min(MAX_CHUNK_TASKS, math.ceil(self._outbox_size / (2 * processes))))

    def _take_chunk(self, size: int) -> list[_Slot]:
        """Up to `size` live slots, taken round-robin across owners."""
        slots: list[_Slot] = []
        while self._outbox and len(slots) < size:
            share = max(1, (size - len(slots)) // len(self._outbox))
            owner, queue = next(iter(self._outbox.items()))
            taken = 0
            while queue and taken < share:
                slot = queue.popleft()
                self._outbox_size -= 1
                if not slot.batch.done:  # its request was cancelled or already failed
                    slots.append(slot)
                    taken += 1
            self._outbox.pop(owner)
            if queue:
                self._outbox[owner] = queue  # to the back of the line
        return slots

    async def _submitter(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox and self._waiting_chunks < self._window() and self.state.redis_ok:
                chunks: list[tuple[Chunk, _Sent]] = []
                while self._outbox and self._waiting_chunks + len(chunks) < self._window():
                    slots = self._take_chunk(self._chunk_size())
                    if not slots:
                        break
                    budget_left = self.queue_timeout_s - (time.monotonic() - min(s.batch.arrived for s in slots))
                    chunk = Chunk(id=secrets.token_hex(8), reply=self.reply_key,
                                  expires_at=time.time() + budget_left, tasks=[s.task for s in slots])
                    chunks.append((chunk, _Sent(slots, time.monotonic() + budget_left)))
                if not chunks:
                    break
                await self._send(chunks)

    async def _send(self, chunks: list[tuple[Chunk, _Sent]]) -> None:
        # Known before they are sent: a fast worker's replies can arrive before `execute` returns.
        for chunk, sent in chunks:
            self._sent[chunk.id] = sent
            self._submitted_since_monitor += len(sent.slots)
        self._waiting_chunks += len(chunks)
        pipe = self.client.pipeline(transaction=True)  # the entries and the queue count move together
        for chunk, _ in chunks:
            pipe.xadd(self.keys.tasks, {"d": chunk.encode()})
        pipe.incrby(self.keys.queued, sum(len(sent.slots) for _, sent in chunks))
        try:
            await pipe.execute()
        except REDIS_DOWN as exc:
            self._mark_down(exc)  # fails every request in flight, these included

    # -- receiving ------------------------------------------------------------------------------

    async def _reader(self) -> None:
        delay = 0.1
        while True:
            try:
                items = await self.client.lpop(self.reply_key, 1024)
                if not items:
                    popped = await self.client.blpop([self.reply_key], timeout=1)
                    items = [popped[1]] if popped else []
                for raw in items:
                    self._on_reply(raw)
                delay = 0.1
            except REDIS_DOWN as exc:
                self._mark_down(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            except Exception:  # a malformed reply must not stop the reader
                log.exception("bad reply on %s", self.reply_key)

    def _on_reply(self, raw: bytes) -> None:
        reply = orjson.loads(raw)
        sent = self._sent.get(reply.get("c"))
        if sent is None:
            return  # already answered (a duplicate), or from before a restart of this process
        if "s" in reply:
            if sent.started_by is None:
                self._waiting_chunks -= 1
                self._wake.set()
            sent.started_by, sent.orphaned_since = reply["s"], None
            return
        positions = reply["p"]
        for position, fields in zip(positions, reply["v"]):
            slot = sent.slots[position]
            slot.batch.resolve(slot.index, verdict_from_fields(fields))
        # the whole chunk in one reply (the usual case), or its last part (a chunk split after a reclaim)
        if len(positions) == len(sent.slots) or all(s.batch.done or s.batch.results[s.index] is not None
                                                    for s in sent.slots):
            self._forget(reply["c"])

    def _forget(self, chunk_id: str) -> None:
        sent = self._sent.pop(chunk_id, None)
        if sent is not None and sent.started_by is None:
            self._waiting_chunks -= 1
            self._wake.set()

    # -- watching -------------------------------------------------------------------------------

    async def _monitor(self) -> None:
        while True:
            await asyncio.sleep(MONITOR_INTERVAL_S)
            await self._refresh_state()
            self._expire(time.monotonic())

    async def _refresh_state(self) -> None:
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.keys.queued)
        pipe.xlen(self.keys.tasks)
        pipe.zrangebyscore(self.keys.workers, now - WORKER_HEARTBEAT_TTL_S, "+inf")
        pipe.hgetall(self.keys.worker_info)
        pipe.hgetall(self.keys.stats)
        pipe.zadd(self.keys.apis, {self.api_id: now})
        pipe.zremrangebyscore(self.keys.apis, "-inf", now - REPLY_TTL_S)  # API processes long gone
        pipe.expire(self.reply_key, REPLY_TTL_S)
        try:
            if not self.state.redis_ok:
                await ensure_group(self.client, self.keys)
            queued, entries, live, info, stats, *_ = await pipe.execute()
        except REDIS_DOWN as exc:
            self._mark_down(exc)
            return
        workers = {}
        for wid in live:
            try:
                workers[wid.decode()] = orjson.loads(info.get(wid, b"{}"))
            except orjson.JSONDecodeError:
                continue
        if not self.state.redis_ok:
            log.info("connected to Redis at %s", self.url)
        self.state = ClusterState(redis_ok=True, error="", queued=int(queued or 0), stream_entries=int(entries),
                                  workers=workers, stats={k.decode(): int(v) for k, v in stats.items()})
        self._submitted_since_monitor = 0
        self._wake.set()

    def _expire(self, now: float) -> None:
        """Answer what waited past its budget: tasks never started, chunks whose worker is gone."""
        for owner in list(self._outbox):
            queue = self._outbox[owner]
            while queue and (queue[0].batch.done or now - queue[0].batch.arrived > self.queue_timeout_s):
                slot = queue.popleft()
                self._outbox_size -= 1
                slot.batch.resolve(slot.index, self._never_started(slot))
            if not queue:
                del self._outbox[owner]
        live = self.state.workers
        for chunk_id, sent in list(self._sent.items()):
            if sent.started_by is None:
                if now > sent.expires_at + 1.0:  # a worker answers these itself; this is the fallback
                    for slot in sent.slots:
                        slot.batch.resolve(slot.index, self._never_started(slot))
                    self._forget(chunk_id)
            elif sent.started_by not in live:
                sent.orphaned_since = sent.orphaned_since or now
                if now - sent.orphaned_since > self.queue_timeout_s:
                    for slot in sent.slots:
                        slot.batch.resolve(slot.index, finalize(Verdict.failed(
                            Status.timeout, f"worker {sent.started_by} stopped while running this task and no "
                                            f"other worker took it over within {self.queue_timeout_s:g}s"),
                            slot.task.spec, 0.0))
                    self._forget(chunk_id)
            elif all(s.batch.done for s in sent.slots):
                self._forget(chunk_id)  # every request it served is gone

    def _never_started(self, slot: _Slot) -> Verdict:
        return finalize(Verdict.failed(Status.timeout, f"never started: no worker took this task within the "
                                                       f"queue budget of {self.queue_timeout_s:g}s"),
                        slot.task.spec, 0.0)

    def _mark_down(self, exc: BaseException) -> None:
        if self.state.redis_ok:
            log.warning("lost Redis at %s: %s", self.url, describe(exc))
        self.state = ClusterState(redis_ok=False, error=describe(exc))
        self._fail_all(Unavailable(f"Redis is unreachable: {describe(exc)}", retry_after_s=1.0))

    def _fail_all(self, exc: Exception) -> None:
        """Requests in flight when Redis goes away fail fast; their verdicts may never come back."""
        for sent in self._sent.values():
            for slot in sent.slots:
                slot.batch.fail(exc)
        for queue in self._outbox.values():
            for slot in queue:
                slot.batch.fail(exc)
        self._sent.clear()
        self._outbox.clear()
        self._outbox_size = 0
        self._waiting_chunks = 0

    # -- metrics ----------------------------------------------------------------------------------

    def metrics(self) -> dict[str, Any]:
        state = self.state
        return {
            "queue_depth": max(0, state.queued),
            "stream_entries": state.stream_entries,
            "inflight": self._local_pending,
            "workers": {w: int(i.get("done", 0)) for w, i in state.workers.items()},
            "reclaimed": state.stats.get("reclaimed", 0),
            "poison": state.stats.get("poison", 0),
            "expired": state.stats.get("expired", 0),
        }


__all__ = ["ClusterState", "GROUP", "RedisExecutor"]
