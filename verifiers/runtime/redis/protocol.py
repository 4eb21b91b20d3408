"""What API processes and workers agree on: key names, the chunk and reply messages, connections.

Keys (under a prefix, `referee` by default):
  {p}:tasks            stream of chunks; consumer group `workers`
  {p}:queued           tasks in the stream not yet answered (queued or running); for admission
  {p}:replies:{api}    list of replies to one API process
  {p}:workers          sorted set: worker id -> time of its last heartbeat
  {p}:worker-info      hash: worker id -> JSON (host, processes, fingerprint, tasks done)
  {p}:apis             sorted set: API process id -> time of its last heartbeat
  {p}:attempts         hash: stream entry id -> times a worker started it (deaths blame tasks by it)
  {p}:stats            hash of counters: reclaimed, poison, expired
  {p}:cache:{key}      one cached verdict (with a TTL)

A chunk (one stream entry, field `d`) is JSON:
  {"id": chunk id, "reply": reply key, "exp": unix time after which it must not start,
   "att": workers that died while it ran (carried over when a suspect chunk is split), "pos": positions (absent: 0..n-1), "tasks": [task, ...]}
A reply (one list element) is JSON: {"c": chunk id, "s": worker id} when a worker starts a chunk,
  {"c": chunk id, "p": positions, "v": [verdict fields, ...]} with its verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

GROUP = "workers"

# What a lost or restarting Redis raises; everything that talks to Redis survives these.
REDIS_DOWN: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    OSError,
)


@dataclass(frozen=True)
class Keys:
    prefix: str = "referee"

    @property
    def tasks(self) -> str:
        return f"{self.prefix}:tasks"

    @property
    def queued(self) -> str:
        return f"{self.prefix}:queued"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    @property
    def worker_info(self) -> str:
        return f"{self.prefix}:worker-info"

    @property
    def apis(self) -> str:
        return f"{self.prefix}:apis"

    @property
    def attempts(self) -> str:
        return f"{self.prefix}:attempts"

    @property
    def stats(self) -> str:
        return f"{self.prefix}:stats"

    def replies(self, api_id: str) -> str:
        return f"{self.prefix}:replies:{api_id}"

    def cache(self, key: str) -> str:
        return f"{self.prefix}:cache:{key}"


@dataclass
class Chunk:
    id: str
    reply: str
    expires_at: float
    tasks: list[Any]  # Task objects when sent (orjson writes them as `Task.to_plain()`), plain JSON when read
    deaths: int = 0
    positions: list[int] = field(default_factory=list)

    def encode(self) -> bytes:
        doc: dict[str, Any] = {"id": self.id, "reply": self.reply, "exp": self.expires_at, "att": self.deaths,
                               "tasks": self.tasks}
        if self.positions:
            doc["pos"] = self.positions
        return orjson.dumps(doc)

    @classmethod
    def decode(cls, data: bytes) -> Chunk:
        doc = orjson.loads(data)
        if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), list):
            raise ValueError("not a chunk")
        tasks = doc["tasks"]
        return cls(id=str(doc["id"]), reply=str(doc["reply"]), expires_at=float(doc["exp"]), tasks=tasks,
                   deaths=int(doc.get("att", 0)), positions=list(doc.get("pos") or range(len(tasks))))


def verdicts_reply(chunk_id: str, positions: list[int], verdicts: list[bytes]) -> bytes:
    """The reply carrying a chunk's verdicts, each already JSON (as a pool process wrote it): joined
    in as they are, never decoded and encoded again."""
    head = orjson.dumps({"c": chunk_id, "p": positions})
    return head[:-1] + b',"v":[' + b",".join(verdicts) + b"]}"


def connect(url: str, *, socket_timeout_s: float = 5.0, max_connections: int = 32) -> aioredis.Redis:
    """A client that fails fast while Redis is away and reconnects by itself when it returns.

    Its connections are shared, and a caller past `max_connections` waits for one to be free.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=socket_timeout_s,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=2.0,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
        health_check_interval=10,
    )
    return aioredis.Redis(connection_pool=pool)


async def ensure_group(client: aioredis.Redis, keys: Keys) -> None:
    """Create the task stream and its consumer group if missing (after a Redis restart, say).

    The group starts at the stream's beginning, so chunks queued before it existed are served.
    """
    try:
        await client.xgroup_create(keys.tasks, GROUP, id="0", mkstream=True)
    except redis.exceptions.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
