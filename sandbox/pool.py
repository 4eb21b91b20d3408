"""A fixed number of warm sandboxes shared by the callers of one process (e.g. an HTTP server).

`FairSlots` decides who runs next: a caller never holds every slot while another waits (one
stays free for others), a freed slot goes to the waiting caller that holds the fewest, and a
wait has a deadline, after which the caller is told when to come back (`SlotsBusy`).
`SandboxPool` holds the sandboxes themselves; a slot granted by `FairSlots` guarantees a free one.
"""

from __future__ import annotations

import asyncio
import math
import os
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

from sandbox.session import Sandbox


def default_slots() -> int:
    return int(os.environ.get("REFEREE_SANDBOX_SLOTS", 0)) or os.cpu_count() or 1


class SandboxPool:
    """`size` sandboxes, each started on first use; a caller borrows one for one program.

    A sandbox that failed is torn down by its own session and restarted on its next use, so a
    borrowed sandbox is never one left broken by an earlier program.
    """

    def __init__(self, size: int | None = None):
        self.size = size or default_slots()
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


class SlotsBusy(Exception):
    """No slot came free in time, or too many callers wait already; retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class _Caller:
    held: int = 0
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)
    first_wait: float = 0.0


class FairSlots:
    """`size` slots shared fairly by named callers, on one event loop.

    - A caller holds at most `per_caller` slots (default `size - 1`, at least 1): one slot stays
      free for a caller that arrives while another runs long programs.
    - A freed slot goes to the waiting caller holding the fewest slots (ties: the longest waiting).
    - A wait ends at `max_wait_s`, and at most `max_waiting` requests wait at once; past either,
      `SlotsBusy` says when a slot is expected to free up.
    """

    def __init__(self, size: int, *, per_caller: int | None = None, max_wait_s: float = 10.0,
                 max_waiting: int | None = None):
        self.size = size
        self.per_caller = max(1, per_caller if per_caller is not None else size - 1)
        self.max_wait_s = max_wait_s
        self.max_waiting = max_waiting if max_waiting is not None else 32 * size
        self.free = size
        self._callers: dict[str, _Caller] = {}
        self._ends: dict[int, float] = {}  # grant id -> when it is expected to end (wall limit)
        self._next_grant = 0

    @property
    def waiting(self) -> int:
        return sum(len(c.waiting) for c in self._callers.values())

    def retry_after_s(self) -> float:
        """When the first slot is expected to free up (from the wall limits of the runs holding them)."""
        soonest = min(self._ends.values(), default=time.monotonic()) - time.monotonic()
        return float(max(1, math.ceil(soonest)))

    def check_room(self) -> None:
        """Refuse at once when the waiting room is full (call before reading a large request body)."""
        if self.free == 0 and self.waiting >= self.max_waiting:
            raise SlotsBusy(f"{self.waiting} sandbox requests are waiting already", self.retry_after_s())

    @asynccontextmanager
    async def slot(self, caller: str, expected_s: float) -> AsyncIterator[None]:
        """Hold one slot for a run expected to take at most `expected_s` seconds."""
        await self._acquire(caller)
        grant = self._next_grant
        self._next_grant += 1
        self._ends[grant] = time.monotonic() + expected_s
        try:
            yield
        finally:
            del self._ends[grant]
            self._release(caller)

    async def _acquire(self, caller: str) -> None:
        state = self._callers.setdefault(caller, _Caller())
        if self.free > 0 and state.held < self.per_caller and not state.waiting:
            self.free -= 1
            state.held += 1
            return
        self.check_room()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not state.waiting:
            state.first_wait = time.monotonic()
        state.waiting.append(future)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.max_wait_s)
        except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
            if future.done() and not future.cancelled():  # granted just as the wait ended: give it back
                self._release(caller)
            else:
                future.cancel()
                if future in state.waiting:
                    state.waiting.remove(future)
                self._forget_if_idle(caller)
                self._dispatch()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise SlotsBusy(f"no sandbox slot came free within {self.max_wait_s:g} s",
                            self.retry_after_s()) from None

    def _release(self, caller: str) -> None:
        state = self._callers[caller]
        state.held -= 1
        self.free += 1
        self._forget_if_idle(caller)
        self._dispatch()

    def _forget_if_idle(self, caller: str) -> None:
        state = self._callers.get(caller)
        if state is not None and state.held == 0 and not state.waiting:
            del self._callers[caller]

    def _dispatch(self) -> None:
        """Hand free slots to waiting callers: fewest held first, then longest waiting."""
        while self.free > 0:
            eligible = [(state.held, state.first_wait, name) for name, state in self._callers.items()
                        if state.waiting and state.held < self.per_caller]
            if not eligible:
                return
            _, _, name = min(eligible)
            state = self._callers[name]
            future = state.waiting.popleft()
            if state.waiting:
                state.first_wait = time.monotonic()
            if future.done():  # cancelled by its own deadline
                continue
            self.free -= 1
            state.held += 1
            future.set_result(None)
