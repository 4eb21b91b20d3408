"""Cooperative pacing: long loops on the event loop hand it back every SLICE_S.

One 16,384-item request does a lot of bookkeeping (validation, preparation, queueing, answering);
done in one go it would stall every other request and `/healthz` for as long.
"""

from __future__ import annotations

import asyncio
import time

SLICE_S = 0.005  # longest stretch of batch bookkeeping between two yields to the event loop


class Pacer:
    """Call `await pacer.tick()` once per item: it yields when the loop has been held SLICE_S."""

    def __init__(self) -> None:
        self._since = time.perf_counter()

    async def tick(self) -> None:
        now = time.perf_counter()
        if now - self._since >= SLICE_S:
            await asyncio.sleep(0)
            self._since = time.perf_counter()
