"""What one running service holds: settings, registry, executor, cache, scorer, metrics."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from verifiers.custom.catalog import RuntimeVerifiers
from verifiers.custom.store import FileStore, RedisStore, default_store_path
from verifiers.registry import Registry, default_registry
from verifiers.runtime import Executor, MemoryLRUCache, ProcessPool, Scorer

from server.metrics import Metrics
from server.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Service:
    settings: Settings
    registry: Registry
    executor: Executor
    scorer: Scorer
    metrics: Metrics
    api_keys: frozenset[str]
    custom: RuntimeVerifiers
    admin_keys: frozenset[str] = frozenset()

    @classmethod
    def embedded(cls, settings: Settings, registry: Registry | None = None) -> Service:
        """The single-host default: a local process pool running `registry`, an in-memory cache."""
        registry, custom = _registry_and_store(settings, registry)
        pool = ProcessPool(settings.workers, memory_limit_mb=settings.worker_memory_mb, registry=registry,
                           max_pending=settings.max_pending_items, verifier_store=custom.store.location)
        scorer = Scorer(
            registry,
            pool,
            MemoryLRUCache(settings.cache_entries),
            default_timeout_s=settings.default_timeout_s,
            max_completion_chars=settings.max_completion_chars,
        )
        return cls(settings, registry, pool, scorer, Metrics(lambda: pool.restarts, pool.pending), settings.keys(),
                   custom, settings.admin_key_set())

    @classmethod
    def distributed(cls, settings: Settings, registry: Registry | None = None) -> Service:
        """Scale-out: tasks go through Redis to `referee worker` processes on any host, and the result
        cache lives in Redis. With `workers` other than 0 this process also hosts a worker."""
        from verifiers.runtime.redis import Keys, RedisExecutor, RedisResultCache, RedisWorker

        assert settings.redis_url, "the distributed service needs redis_url"
        # Runtime registrations live in Redis: every API replica and worker host follows them.
        registry, custom = _registry_and_store(settings, registry)
        keys = Keys(settings.redis_prefix)
        local_worker = None
        if settings.workers != 0:
            pool = ProcessPool(settings.workers, memory_limit_mb=settings.worker_memory_mb, registry=registry,
                               max_pending=1 << 30, verifier_store=custom.store.location)  # the worker bounds its intake
            local_worker = RedisWorker(settings.redis_url, pool, registry, processes=pool.size, keys=keys,
                                       visibility_s=settings.redis_visibility_s,
                                       max_attempts=settings.redis_max_attempts)
        executor = RedisExecutor(settings.redis_url, lambda: registry.fingerprint, keys=keys,
                                 max_pending=settings.max_pending_items, queue_timeout_s=settings.queue_timeout_s,
                                 local_worker=local_worker)
        scorer = Scorer(
            registry,
            executor,
            RedisResultCache(executor.client, keys, ttl_s=settings.cache_ttl_s),
            default_timeout_s=settings.default_timeout_s,
            max_completion_chars=settings.max_completion_chars,
        )
        restarts = (lambda: local_worker.pool.restarts) if local_worker else None
        metrics = Metrics(restarts, executor.pending, executor_metrics=executor.metrics)
        return cls(settings, registry, executor, scorer, metrics, settings.keys(), custom, settings.admin_key_set())

    async def follow_registrations(self, interval_s: float = 2.0) -> None:
        """Apply registrations made through other API replicas (Redis store), until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.custom.sync()
            except Exception as exc:  # Redis down: the executor reports it; try again later
                log.debug("could not follow runtime registrations: %s", exc)

    @classmethod
    def from_settings(cls, settings: Settings) -> Service:
        """Distributed when a Redis URL is configured, else the embedded default."""
        return cls.distributed(settings) if settings.redis_url else cls.embedded(settings)


def registration_store(settings: Settings) -> FileStore | RedisStore:
    """Where runtime registrations persist: Redis when the service runs on Redis, else a local file."""
    if settings.redis_url:
        return RedisStore(settings.redis_url, settings.redis_prefix)
    return FileStore(settings.verifier_store or default_store_path())


def _registry_and_store(settings: Settings, registry: Registry | None) -> tuple[Registry, RuntimeVerifiers]:
    """The registry a service runs, with the runtime-registered verifiers from their store applied."""
    isolated = registry is None or registry is default_registry()
    registry = registry or default_registry()
    # Runtime registrations persist in the store; every worker applies them from there too.
    # Admission runs in a child process that rebuilds the default registry, cut off at a deadline.
    custom = RuntimeVerifiers(registry, registration_store(settings),
                              admission_timeout_s=settings.admission_timeout_s if isolated else None)
    try:
        custom.sync()
    except Exception as exc:  # Redis down at start: the registrations follow once it is back
        log.warning("runtime verifiers not applied yet (%s: %s)", type(exc).__name__, exc)
    return registry, custom
