"""Sampling instances off the caller's process: generators use z3, whose global context is not
thread-safe, so each generation runs in a process of a small pool instead of behind one lock.

Fair between requests: a request keeps at most one chunk of its instances queued at a time, so
a large request interleaves with small ones instead of making them wait for all of its work.
Chunks start at one instance and grow while they stay quick.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from envs.base import Instance

_QUICK_CHUNK_S = 0.05  # chunks that finish faster than this double in size
_MAX_CHUNK = 64


def _sample_chunk(name: str, seed: int, n: int, config: dict[str, Any]) -> list[Instance]:
    from envs.registry import get_environment

    return get_environment(name).sample_many(seed, n, config)


class SamplerPool:
    """Worker processes that generate instances; started on first use."""

    def __init__(self, processes: int | None = None):
        self.processes = processes or int(os.environ.get("REFEREE_SAMPLER_PROCESSES", 0)) or os.cpu_count() or 1
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn: the serving process has threads (and maybe sandboxes) that a fork would copy
            self._executor = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
        return self._executor

    async def sample(self, name: str, seed: int, n: int, config: dict[str, Any]) -> list[Instance]:
        """Instances `seed .. seed+n-1` of environment `name` under `config` (already validated),
        kept in this process's instance cache too, so scoring them needs no rebuild. Raises what
        the generator raises (e.g. GenerationBudgetExceeded)."""
        from envs.registry import get_environment

        loop = asyncio.get_running_loop()
        cache = get_environment(name).cache
        out: list[Instance] = []
        chunk = 1
        while len(out) < n:
            size = min(chunk, n - len(out))
            started = time.monotonic()
            chunk_instances = await loop.run_in_executor(self._pool(), _sample_chunk, name, seed + len(out), size, config)
            for instance in chunk_instances:
                cache.put(instance)
            out += chunk_instances
            if time.monotonic() - started < _QUICK_CHUNK_S:
                chunk = min(chunk * 2, _MAX_CHUNK)
        return out

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
