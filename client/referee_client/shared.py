"""One client per process and settings, for trainer helpers that are called as plain functions.

Trainers load reward functions by path in each worker process (verl's reward workers, Ray
actors); a client made before a fork is useless after it, so clients are keyed by process id.
"""

from __future__ import annotations

import os
import threading

from referee_client.client import RefereeClient

_clients: dict[tuple, RefereeClient] = {}
_lock = threading.Lock()


def shared_client(url: str | None, api_key: str | None, micro_batch_ms: float | None,
                  max_retries: int = 6) -> RefereeClient:
    key = (os.getpid(), url, api_key, micro_batch_ms, max_retries)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = RefereeClient(url, api_key=api_key, micro_batch_ms=micro_batch_ms,
                                                   max_retries=max_retries)
        return client
