"""The executor contract: where CPU-bound verification tasks run, and how much work it accepts.

The embedded default is `ProcessPool` (worker processes on this host); a distributed executor (a
queue shared by many hosts) implements the same methods. Every implementation:
  * answers `run(tasks)` with one finalized verdict per task, in order, and never raises for a
    task's sake (overruns give `timeout`, crashes and unknown verifiers give `error`);
  * bounds the work it holds: past `max_pending` queued or running tasks, `admit`/`run` raise
    `Overloaded` (the HTTP layer answers 429 with Retry-After) before queuing anything;
  * serves requests fairly: work is taken round-robin across owners (one owner per request), so
    a huge batch does not stall a small request queued behind it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

from verifiers.contract import Verdict
from verifiers.runtime.task import Task

MAX_PENDING_ENV_VAR = "REFEREE_MAX_PENDING_ITEMS"
DEFAULT_MAX_PENDING_ITEMS = 65_536  # four full-size requests (16,384 items each)


def default_max_pending() -> int:
    raw = os.environ.get(MAX_PENDING_ENV_VAR, "").strip()
    return int(raw) if raw else DEFAULT_MAX_PENDING_ITEMS


class Overloaded(Exception):
    """The executor holds as much work as it may; try again after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, at least 1, as the HTTP Retry-After header wants them."""
        return str(max(1, math.ceil(self.retry_after_s)))


class Unavailable(Exception):
    """The executor cannot take work now (its shared queue is unreachable); try again later."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after_s)))


class Executor(Protocol):
    async def start(self) -> None:
        """Bring workers up; returns once the executor can take work."""

    async def run(self, tasks: Sequence[Task], *, owner: Hashable | None = None) -> list[Verdict]:
        """Score every task, each within its own `timeout_s` once started; same length and order.

        `owner` groups the calls of one request for fairness (default: this call alone).
        Raises only `Overloaded`, before anything is queued, or `Unavailable` when a shared
        queue cannot be reached (the request fails fast; nothing of it is retried silently).
        """

    def admit(self, count: int) -> None:
        """Raise `Overloaded` if `count` more tasks would go past the bound (an empty executor
        admits any one request, however large)."""

    def pending(self) -> int:
        """Tasks queued or running now."""

    async def close(self) -> None:
        """Stop workers and release resources; unfinished tasks get `error`."""

    def ready(self) -> bool:
        """True when tasks would be picked up now."""

    def readiness(self) -> dict[str, Any]:
        """What /readyz shows: `ready`, and the `reason` when not ready, plus what the executor knows."""
