"""The worker side of the Redis runtime (`referee worker`): read chunks, run them locally, answer.

A worker reads chunks through the stream's consumer group and runs them in its own process pool,
with the pool's deadlines and kill semantics. While a chunk runs, the worker keeps claiming it, so
its idle time stays low; a worker that dies stops doing so, and after `visibility_s` another worker
takes the chunk over (XAUTOCLAIM).

Poison tasks: a worker counts each start of a chunk in Redis before running it. A reclaimed chunk
that had been started is a suspect: one of several tasks is split into chunks of one, and a suspect
of one task runs alone on its worker (nothing else starts beside it), so that a worker dying then
is surely its fault. A task that was running when `max_attempts` workers died is answered `error`
and never tried again; the tasks that merely shared a worker with it are not blamed twice. A chunk
picked up past its request's budget is answered `timeout` (never started) without running.

Every loop survives Redis going away: it logs, waits, and carries on when Redis returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
import redis.exceptions

from verifiers.contract import Status, Verdict
from verifiers.registry import Registry
from verifiers.runtime.finalize import finalize
from verifiers.runtime.pool import ProcessPool
from verifiers.runtime.redis.executor import REPLY_TTL_S
from verifiers.runtime.redis.protocol import (GROUP, REDIS_DOWN, Chunk, Keys, connect, describe, ensure_group,
                                              verdicts_reply)
from verifiers.runtime.worker import verdict_fields

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 1.0

# Acknowledge a chunk and deliver its verdicts in one step. The queue count drops only when this
# worker's acknowledgement removed the entry (after a Redis restart there is none to remove).
_FINISH = """
redis.call('HDEL', KEYS[4], ARGV[2])
local acked = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local ok = redis.pcall('XACK', KEYS[1], ARGV[1], ARGV[2])
  if type(ok) == 'number' then acked = ok end
  redis.call('XDEL', KEYS[1], ARGV[2])
end
if acked == 1 then redis.call('DECRBY', KEYS[2], ARGV[3]) end
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[5])
return acked
"""


@dataclass
class _Running:
    entry_id: bytes
    chunk: Chunk | None


class RedisWorker:
    """One worker host: a consumer of the task stream backed by a local executor (a process pool)."""

    def __init__(
        self,
        url: str,
        pool: ProcessPool,
        registry: Registry,
        *,
        processes: int,
        refresh: Callable[[], object] | None = None,
        keys: Keys | None = None,
        visibility_s: float = 30.0,
        max_attempts: int = 3,
        worker_id: str | None = None,
        client: aioredis.Redis | None = None,
    ) -> None:
        self.url = url
        self.pool = pool
        self.registry = registry  # what the pool runs; its fingerprint goes out with every heartbeat
        self.refresh = refresh  # brings `registry` up to date (runtime registrations), once a heartbeat
        self.processes = processes
        self.keys = keys or Keys()
        self.visibility_s = visibility_s
        self.max_attempts = max_attempts
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.client = client or connect(url)
        self.capacity = 4 * processes  # chunks held at once
        self.done = 0
        self._running: dict[bytes, _Running] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._executing = 0  # chunks started in the pool now
        self._suspects = 0  # suspect chunks waiting to run alone, or running
        self._turns = asyncio.Condition()
        self._stopping = asyncio.Event()
        self._finish = self.client.register_script(_FINISH)

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until `stop()`; then finish the chunks in hand (for up to a grace period)."""
        loops = [asyncio.create_task(loop(), name=f"redis-worker-{loop.__name__}")
                 for loop in (self._heartbeat, self._refresh_claims, self._consume)]
        await self._stopping.wait()
        loops[2].cancel()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=max(10.0, self.visibility_s))
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        try:
            await self.client.zrem(self.keys.workers, self.id)
            await self.client.hdel(self.keys.worker_info, self.id)
        except REDIS_DOWN:
            pass
        await self.client.aclose()

    def stop(self) -> None:
        self._stopping.set()

    # -- loops ----------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        host = socket.gethostname()
        while True:
            if self.refresh is not None:
                try:
                    self.refresh()
                except Exception:  # an unreadable store: keep the registry we have
                    log.exception("could not refresh the registry")
            now = time.time()
            info = orjson.dumps({"host": host, "pid": os.getpid(), "processes": self.processes,
                                 "fingerprint": self.registry.fingerprint, "done": self.done,
                                 "running": len(self._running)})
            try:
                pipe = self.client.pipeline(transaction=False)
                pipe.zadd(self.keys.workers, {self.id: now})
                pipe.hset(self.keys.worker_info, self.id, info)
                pipe.zrangebyscore(self.keys.workers, "-inf", now - 60)
                *_, gone = await pipe.execute()
                if gone:  # workers silent for a minute: forget them
                    await self.client.zrem(self.keys.workers, *gone)
                    await self.client.hdel(self.keys.worker_info, *gone)
            except REDIS_DOWN as exc:
                log.warning("heartbeat: Redis unreachable (%s)", describe(exc))
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)

    async def _refresh_claims(self) -> None:
        """Claim the chunks in hand again, so no other worker takes them while they run."""
        while True:
            await asyncio.sleep(self.visibility_s / 3)
            ids = list(self._running)
            if not ids:
                continue
            try:
                await self.client.xclaim(self.keys.tasks, GROUP, self.id, min_idle_time=0, message_ids=ids,
                                         justid=True)
            except REDIS_DOWN as exc:
                log.warning("refreshing claims: Redis unreachable (%s)", describe(exc))
            except redis.exceptions.ResponseError:
                pass  # the group is gone (Redis restarted empty); the consumer loop recreates it

    async def _consume(self) -> None:
        delay, group_ready, next_reclaim = 0.1, False, 0.0
        while True:
            try:
                if not group_ready:
                    await ensure_group(self.client, self.keys)
                    group_ready = True
                room = self.capacity - len(self._running)
                if room <= 0 or self._suspects:  # hold nothing new while a suspect waits for its turn
                    self._room.clear()
                    await self._room.wait()
                    continue
                if time.monotonic() >= next_reclaim:
                    next_reclaim = time.monotonic() + self.visibility_s / 2
                    room -= await self._reclaim(room)
                    if room <= 0:
                        continue
                streams = await self.client.xreadgroup(GROUP, self.id, {self.keys.tasks: ">"}, count=room,
                                                       block=int(min(1.0, self.visibility_s / 2) * 1000))
                for _, entries in streams or []:
                    for entry_id, fields in entries:
                        self._take(entry_id, fields, starts=0)
                delay = 0.1
            except redis.exceptions.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                group_ready = False
            except REDIS_DOWN as exc:
                log.warning("reading tasks: Redis unreachable (%s); retrying in %.1fs", describe(exc), delay)
                group_ready = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _reclaim(self, room: int) -> int:
        """Take over chunks that other workers left unacknowledged past the visibility time."""
        reply = await self.client.xautoclaim(self.keys.tasks, GROUP, self.id,
                                             min_idle_time=int(self.visibility_s * 1000), start_id="0-0",
                                             count=room)
        entries = [(entry_id, fields) for entry_id, fields in reply[1] if fields and entry_id not in self._running]
        if not entries:
            return 0
        starts = await self.client.hmget(self.keys.attempts, [entry_id for entry_id, _ in entries])
        for (entry_id, fields), started in zip(entries, starts):
            self._take(entry_id, fields, starts=int(started or 0), reclaimed=True)
        return len(entries)

    # -- one chunk ------------------------------------------------------------------------------

    def _take(self, entry_id: bytes, fields: dict[bytes, bytes], starts: int, reclaimed: bool = False) -> None:
        """`starts`: how often workers started this entry before (they died, or were too slow)."""
        running = _Running(entry_id, None)
        self._running[entry_id] = running
        handler = asyncio.create_task(self._handle(running, fields, starts, reclaimed))
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)

    async def _handle(self, running: _Running, fields: dict[bytes, bytes], starts: int, reclaimed: bool) -> None:
        try:
            try:
                running.chunk = chunk = Chunk.decode(fields[b"d"])
            except (KeyError, ValueError, TypeError) as exc:
                log.error("dropping a malformed entry %s from the task stream: %s", running.entry_id, exc)
                await self._drop(running.entry_id)
                return
            if reclaimed:
                await self._count("reclaimed", len(chunk.tasks))
            deaths = chunk.deaths + starts
            if starts and len(chunk.tasks) > 1:
                await self._split(running.entry_id, chunk, deaths)
                return
            if deaths >= self.max_attempts:
                await self._count("poison", len(chunk.tasks))
                verdicts = [self._failed(t, Status.error, f"abandoned: {deaths} workers died while running this "
                                                          f"task; it is not tried again") for t in chunk.tasks]
            elif time.time() > chunk.expires_at:
                await self._count("expired", len(chunk.tasks))
                verdicts = [self._failed(t, Status.timeout, "never started: no worker took this task within "
                                                            "its request's queue budget") for t in chunk.tasks]
            else:
                async with self._turn(suspect=deaths > 0):
                    await self._announce(running.entry_id, chunk)
                    # the tasks' JSON goes to the pool processes and their verdicts' back, not rebuilt here
                    verdicts = await self.pool.run_plain(chunk.tasks, owner=chunk.id)
            await self._deliver(running.entry_id, chunk, verdicts)
        except asyncio.CancelledError:
            raise
        except Exception:  # a worker never dies of one chunk; the entry is reclaimed later
            log.exception("chunk %s failed", running.entry_id)
        finally:
            self._running.pop(running.entry_id, None)
            self._room.set()

    @staticmethod
    def _failed(plain: Any, status: Status, message: str) -> bytes:
        spec = plain.get("spec") if isinstance(plain, dict) else None
        return orjson.dumps(verdict_fields(finalize(Verdict.failed(status, message), str(spec or "?"), 0.0)))

    @asynccontextmanager
    async def _turn(self, suspect: bool) -> AsyncIterator[None]:
        """A suspect runs alone: it waits for the chunks running now, and nothing starts beside it."""
        async with self._turns:
            if suspect:
                self._suspects += 1
                await self._turns.wait_for(lambda: self._executing == 0)
            else:
                await self._turns.wait_for(lambda: self._suspects == 0)
            self._executing += 1
        try:
            yield
        finally:
            async with self._turns:
                self._executing -= 1
                if suspect:
                    self._suspects -= 1
                self._turns.notify_all()
            self._room.set()

    async def _announce(self, entry_id: bytes, chunk: Chunk) -> None:
        """Count this start (it is what blames a task for a worker's death) and tell the API."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hincrby(self.keys.attempts, entry_id, 1)
        pipe.rpush(chunk.reply, orjson.dumps({"c": chunk.id, "s": self.id}))
        try:
            await pipe.execute()
        except REDIS_DOWN:
            pass  # the verdicts are what matter; they are delivered (or retried) later

    async def _deliver(self, entry_id: bytes, chunk: Chunk, verdicts: list[bytes]) -> None:
        payload = verdicts_reply(chunk.id, chunk.positions, verdicts)
        delay, give_up = 0.1, time.monotonic() + max(60.0, self.visibility_s * 2)
        while True:
            try:
                await self._finish(keys=[self.keys.tasks, self.keys.queued, chunk.reply, self.keys.attempts],
                                   args=[GROUP, entry_id, len(chunk.tasks), payload, REPLY_TTL_S])
                self.done += len(verdicts)
                return
            except REDIS_DOWN as exc:
                if time.monotonic() > give_up:  # the request has long failed with 503
                    log.warning("dropping the verdicts of chunk %s: Redis unreachable (%s)", chunk.id, describe(exc))
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _split(self, entry_id: bytes, chunk: Chunk, deaths: int) -> None:
        """Queue each task of a reclaimed chunk alone, so a task that kills workers is found alone."""
        pipe = self.client.pipeline(transaction=True)
        for position, task in zip(chunk.positions, chunk.tasks):
            solo = Chunk(id=chunk.id, reply=chunk.reply, expires_at=chunk.expires_at, tasks=[task],
                         deaths=deaths, positions=[position])
            pipe.xadd(self.keys.tasks, {"d": solo.encode()})
        pipe.xack(self.keys.tasks, GROUP, entry_id)
        pipe.xdel(self.keys.tasks, entry_id)
        pipe.hdel(self.keys.attempts, entry_id)
        await pipe.execute()

    async def _drop(self, entry_id: bytes) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(self.keys.tasks, GROUP, entry_id)
        pipe.xdel(self.keys.tasks, entry_id)
        await pipe.execute()

    async def _count(self, what: str, n: int) -> None:
        try:
            await self.client.hincrby(self.keys.stats, what, n)
        except REDIS_DOWN:
            pass
