"""What one running service holds: settings, registry, executor, cache, scorer, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from verifiers.custom.catalog import RuntimeVerifiers
from verifiers.custom.store import FileStore, default_store_path
from verifiers.registry import Registry, default_registry
from verifiers.runtime import Executor, MemoryLRUCache, ProcessPool, Scorer

from server.metrics import Metrics
from server.settings import Settings


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
        isolated = registry is None or registry is default_registry()
        registry = registry or default_registry()
        # Runtime registrations persist in the store; every worker applies them from there too.
        # Admission runs in a child process that rebuilds the default registry, cut off at a deadline.
        store_path = settings.verifier_store or default_store_path()
        custom = RuntimeVerifiers(registry, FileStore(store_path),
                                  admission_timeout_s=settings.admission_timeout_s if isolated else None)
        custom.sync()
        pool = ProcessPool(settings.workers, memory_limit_mb=settings.worker_memory_mb, registry=registry,
                           max_pending=settings.max_pending_items, verifier_store=str(store_path))
        scorer = Scorer(
            registry,
            pool,
            MemoryLRUCache(settings.cache_entries),
            default_timeout_s=settings.default_timeout_s,
            max_completion_chars=settings.max_completion_chars,
        )
        return cls(settings, registry, pool, scorer, Metrics(lambda: pool.restarts, pool.pending), settings.keys(),
                   custom, settings.admin_key_set())
