"""The one retry policy of Referee's outgoing HTTP calls (judge servers, GRM servers).

Which answers are worth another attempt, how long to wait before it (the server's Retry-After
when it gives one, else capped exponential backoff with jitter, so a burst of failures does not
retry in lockstep), and whether that wait still fits the caller's deadline.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

import httpx

# 429 is retryable too, but callers treat it apart: it says the server is alive and busy.
RETRYABLE_STATUS = frozenset({408, 409, 425, 500, 502, 503, 504, 520, 522, 524, 529})


def is_retryable_status(code: int) -> bool:
    return code == 429 or code in RETRYABLE_STATUS or code >= 500


def parse_retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds from `retry-after-ms`, `Retry-After: <seconds>` or `Retry-After: <HTTP date>`."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4  # retries after the first attempt
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 20.0

    def delay(self, retries: int, retry_after: float | None = None) -> float:
        """Wait before retry number `retries + 1`: the server's Retry-After if it sent one."""
        if retry_after is not None:
            return retry_after
        cap = min(self.backoff_max_s, self.backoff_initial_s * 2**retries)
        return cap * random.uniform(0.5, 1.0)

    def may_retry(self, retries: int) -> bool:
        return retries < self.max_retries

    @staticmethod
    def fits(delay: float, deadline: float) -> bool:
        """Whether a retry after `delay` still starts before `deadline` (time.monotonic clock)."""
        return time.monotonic() + delay < deadline
