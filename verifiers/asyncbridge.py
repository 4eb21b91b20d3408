"""The one sync-over-async bridge: run a coroutine to completion from blocking code.

Blocking callers (the in-process Python API, a worker process) may or may not be inside a running
event loop. `asyncio.run` fails inside one, and blocking that loop would deadlock anything the
coroutine waits for on it, so then the coroutine runs on a private loop in another thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`make()`'s result; `make` builds the coroutine where it will run (its loop may differ)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="referee-bridge") as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
