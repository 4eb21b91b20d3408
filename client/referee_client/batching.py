"""Micro-batching: single-rollout calls made within a few milliseconds go out as one request.

verl, OpenRLHF, slime and NeMo Gym ask for one reward per rollout, from many threads or tasks at
once. One HTTP request per rollout costs far more than the scoring itself; gathering the calls
that arrive within `window_s` into one `/v1/verify` request removes most of that cost.

Threads, not asyncio, so that one batcher serves sync callers (verl's reward workers run
`compute_score` in a thread pool) and async callers on any event loop (through
`asyncio.wrap_future`) alike.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from referee_client.wire import Verdict

PostBatch = Callable[[list[dict[str, Any]], float | None], list[Verdict]]


class _Pending:
    __slots__ = ("item", "timeout_s", "future")

    def __init__(self, item: dict[str, Any], timeout_s: float | None) -> None:
        self.item = item
        self.timeout_s = timeout_s
        self.future: Future[Verdict] = Future()


class MicroBatcher:
    """Collects submitted items for `window_s` (or until `max_items`) and posts them together.

    At most `max_inflight` requests are out at once; while they are, arrivals keep collecting, so
    batches grow under load instead of requests queueing. Each item's future gets its own verdict
    (order is by construction: verdicts come back in the order the batch was sent).
    """

    def __init__(self, post: PostBatch, *, window_s: float = 0.005, max_items: int = 1024,
                 max_inflight: int = 4) -> None:
        if window_s < 0 or max_items < 1 or max_inflight < 1:
            raise ValueError("window_s >= 0, max_items >= 1 and max_inflight >= 1")
        self._post = post
        self._window_s = window_s
        self._max_items = max_items
        self._slots = threading.BoundedSemaphore(max_inflight)
        self._senders = ThreadPoolExecutor(max_inflight, thread_name_prefix="referee-batch")
        self._pending: list[_Pending] = []
        self._wake = threading.Condition()
        self._closed = False
        self._flusher = threading.Thread(target=self._run, name="referee-batcher", daemon=True)
        self._flusher.start()

    def submit(self, item: dict[str, Any], timeout_s: float | None = None) -> Future[Verdict]:
        pending = _Pending(item, timeout_s)
        with self._wake:
            if self._closed:
                raise RuntimeError("the client is closed")
            self._pending.append(pending)
            if len(self._pending) == 1 or len(self._pending) >= self._max_items:
                self._wake.notify()
        return pending.future

    def close(self) -> None:
        """Send what is pending, wait for every request in flight, stop the threads."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._flusher.join()
        self._senders.shutdown(wait=True)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if not self._pending:
                    return
                deadline = time.monotonic() + self._window_s
                while len(self._pending) < self._max_items and not self._closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(remaining)
            self._slots.acquire()  # under back-pressure, arrivals keep joining the next batch meanwhile
            with self._wake:
                batch, self._pending = self._pending[:self._max_items], self._pending[self._max_items:]
            self._senders.submit(self._send, batch)

    def _send(self, batch: list[_Pending]) -> None:
        try:
            groups: dict[float | None, list[_Pending]] = {}
            for pending in batch:  # one request per deadline: timeout_s is per request on the wire
                groups.setdefault(pending.timeout_s, []).append(pending)
            for timeout_s, group in groups.items():
                try:
                    verdicts = self._post([p.item for p in group], timeout_s)
                except BaseException as exc:  # every caller hears of the failure, none waits forever
                    for p in group:
                        p.future.set_exception(exc)
                    continue
                for p, verdict in zip(group, verdicts):
                    p.future.set_result(verdict)
        finally:
            self._slots.release()
