"""A fixed number of warm sandboxes shared by the threads of one process (e.g. an HTTP server)."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sandbox.session import Sandbox


class SandboxPool:
    """`size` sandboxes, each started on first use; a caller borrows one for one program."""

    def __init__(self, size: int | None = None):
        self.size = size or int(os.environ.get("REFEREE_SANDBOX_SLOTS", 0)) or os.cpu_count() or 1
        self._free: queue.LifoQueue[Sandbox] = queue.LifoQueue()  # LIFO: reuse the warmest sandbox
        self._all: list[Sandbox] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[Sandbox]:
        try:
            box = self._free.get_nowait()
        except queue.Empty:
            with self._lock:
                box = Sandbox() if len(self._all) < self.size else None
                if box is not None:
                    self._all.append(box)
            if box is None:
                box = self._free.get()
        try:
            yield box
        finally:
            self._free.put(box)

    def close(self) -> None:
        with self._lock:
            for box in self._all:
                box.close()
            self._all.clear()
