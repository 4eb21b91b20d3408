"""Back-pressure towards a judge server: a token-bucket rate limit and a circuit breaker.

Both are plain clocks and counters (no asyncio primitives), so one instance serves every event
loop and thread of the process; the per-loop concurrency semaphore lives in the client.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

Clock = Callable[[], float]


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up.

    `reserve()` takes a token now and returns how long the caller must wait before using it; the
    balance may go negative, which queues callers fairly in arrival order without a lock being
    held across the wait.
    """

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def reserve(self, max_wait: float | None = None) -> float | None:
        """Seconds to wait for a token, or None (nothing taken) if that exceeds `max_wait`."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            wait = max(0.0, (1.0 - self._tokens) / self.rate)
            if max_wait is not None and wait > max_wait:
                return None
            self._tokens -= 1.0
            return wait


@dataclass
class CircuitBreaker:
    """Closed -> open after `failures` consecutive failed attempts; open fails fast for `reset_s`;
    then half-open lets one probe through, whose outcome closes or re-opens the circuit."""

    failures: int
    reset_s: float
    clock: Clock = time.monotonic
    _consecutive: int = 0
    _opened_at: float | None = None
    _probe_in_flight: bool = False
    last_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self._opened_at >= self.reset_s else "open"

    def allow(self) -> str | None:
        """May an attempt go out now? "pass" when closed, "probe" for the one half-open probe, else None."""
        with self._lock:
            state = self.state
            if state == "closed":
                return "pass"
            if state == "half_open" and not self._probe_in_flight:
                self._probe_in_flight = True
                return "probe"
            return None

    def retry_in(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset_s - (self.clock() - self._opened_at))

    def record_success(self) -> None:
        with self._lock:
            self._consecutive = 0
            self._opened_at = None
            self._probe_in_flight = False

    def record_failure(self, reason: str) -> None:
        with self._lock:
            self.last_error = reason
            self._consecutive += 1
            if self._probe_in_flight or self._consecutive >= self.failures:
                self._opened_at = self.clock()
            self._probe_in_flight = False

    def release_probe(self) -> None:
        """A probe that ended without a verdict on the server's health (e.g. cancelled)."""
        with self._lock:
            self._probe_in_flight = False
