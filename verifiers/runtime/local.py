"""Batch scoring from plain Python, with the same worker pool and deadlines as the service."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from verifiers.contract import Item, Verdict
from verifiers.registry import Registry, default_registry
from verifiers.runtime.cache import MemoryLRUCache
from verifiers.runtime.pool import ProcessPool
from verifiers.runtime.scorer import Scorer


class LocalScorer:
    """A worker pool on its own event-loop thread; usable from any thread or from inside asyncio.

        with LocalScorer(workers=2) as scorer:
            verdicts = scorer.score([{"verifier": "math", "completion": "...", "reference": "42"}])

    Workers run `registry` (default: built-ins, entry-point plugins, $REFEREE_PLUGINS).
    """

    def __init__(self, workers: int | None = None, timeout_s: float = 10.0, cache_entries: int = 100_000,
                 registry: Registry | None = None) -> None:
        registry = registry or default_registry()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="referee-scorer", daemon=True)
        self._pool = ProcessPool(workers, registry=registry)
        self._scorer = Scorer(registry, self._pool, MemoryLRUCache(cache_entries), default_timeout_s=timeout_s)
        self._started = False

    def __enter__(self) -> LocalScorer:
        self._thread.start()
        self._call(self._pool.start())
        self._started = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._started:
            self._call(self._pool.close())
            self._started = False
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def score(self, items: Iterable[Item | Mapping[str, Any]], timeout_s: float | None = None) -> list[Verdict]:
        parsed = [i if isinstance(i, Item) else Item.model_validate(i) for i in items]
        return self._call(self._scorer.score(parsed, timeout_s))

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()


def verify_batch(items: Iterable[Item | Mapping[str, Any]], *, timeout_s: float = 10.0,
                 workers: int | None = None, registry: Registry | None = None) -> list[Verdict]:
    """Score many items at once in worker processes; overruns are killed and reported as `timeout`."""
    with LocalScorer(workers=workers, timeout_s=timeout_s, registry=registry) as scorer:
        return scorer.score(items)
