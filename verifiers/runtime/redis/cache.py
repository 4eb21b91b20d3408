"""The result cache in Redis: a verdict computed behind one API replica serves all of them.

Entries expire after `ttl_s`; the memory bound is Redis's own: run it with `maxmemory` and the
`volatile-lru` policy (the compose file does), which evicts only keys with a TTL — cache entries
— and never the task stream. A cache that cannot reach Redis misses and stores nothing; it never
fails a request.
"""

from __future__ import annotations

import logging

import orjson
import redis.asyncio as aioredis

from verifiers.contract import Verdict
from verifiers.runtime.cache import CACHEABLE
from verifiers.runtime.redis.protocol import REDIS_DOWN, Keys, describe
from verifiers.runtime.worker import verdict_fields, verdict_from_fields

log = logging.getLogger(__name__)


class RedisResultCache:
    def __init__(self, client: aioredis.Redis, keys: Keys | None = None, ttl_s: int = 24 * 3600) -> None:
        self.client = client
        self.keys = keys or Keys()
        self.ttl_s = ttl_s

    async def get_many(self, keys: list[str]) -> dict[str, Verdict]:
        if not keys or self.ttl_s <= 0:
            return {}
        try:
            values = await self.client.mget([self.keys.cache(k) for k in keys])
        except REDIS_DOWN as exc:
            log.debug("result cache unreachable: %s", describe(exc))
            return {}
        found: dict[str, Verdict] = {}
        for key, raw in zip(keys, values):
            if raw is None:
                continue
            try:
                found[key] = verdict_from_fields(orjson.loads(raw))
            except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
                continue  # written by an incompatible version: a miss
        return found

    async def put_many(self, entries: dict[str, Verdict]) -> None:
        cacheable = {k: v for k, v in entries.items() if v.status in CACHEABLE}
        if not cacheable or self.ttl_s <= 0:
            return
        pipe = self.client.pipeline(transaction=False)
        for key, verdict in cacheable.items():
            fields = dict(verdict_fields(verdict), id=None, cached=False)
            pipe.set(self.keys.cache(key), orjson.dumps(fields), ex=self.ttl_s)
        try:
            await pipe.execute()
        except REDIS_DOWN as exc:
            log.debug("result cache unreachable: %s", describe(exc))
