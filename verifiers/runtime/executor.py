"""The executor interface: where CPU-bound verifier jobs run.

The embedded default is `ProcessPool` (worker processes on this host). A distributed executor
(a queue shared by many hosts) implements the same three methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from verifiers.contract import Verdict
from verifiers.scoring import Job


class Executor(Protocol):
    async def start(self) -> None:
        """Bring workers up; returns once the executor can take work."""

    async def run(self, jobs: Sequence[Job], timeout_s: float) -> list[Verdict]:
        """Score every job, each within `timeout_s` of starting; one verdict per job, same order.

        Never raises for a job's sake: overruns give `timeout`, crashes give `error`.
        """

    async def close(self) -> None:
        """Stop workers and release resources."""

    def ready(self) -> bool:
        """True when jobs would be picked up now."""
