"""The `run_python` tool's interpreters: at most one per session, bounded per server process.

Each interpreter is a `sandbox.interpreter.PythonInterpreter` (one persistent sandboxed process).
Cells run on a thread pool of their own, so a cell that loops until its wall clock never holds a
thread the rest of the server needs. Closing a session kills its interpreter at once.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from sandbox.interpreter import INTERPRETER_LIMITS, CellResult, PythonInterpreter
from sandbox.limits import Limits


class InterpreterPool:
    def __init__(self, max_live: int, limits: Limits | None = None):
        self.max_live = max_live
        self.limits = limits or INTERPRETER_LIMITS
        self._live: dict[str, PythonInterpreter] = {}
        self._cells = ThreadPoolExecutor(max_workers=max(1, max_live), thread_name_prefix="ors-python")
        self.started = 0

    def __len__(self) -> int:
        return len(self._live)

    async def run(self, sid: str, code: str) -> CellResult:
        interpreter = self._live.get(sid)
        if interpreter is None:
            if len(self._live) >= self.max_live:
                return CellResult(stopped="unavailable", message=(
                    f"no interpreter is free: {len(self._live)} are running on this server (the limit is "
                    f"{self.max_live}); try again later"))
            interpreter = self._live[sid] = PythonInterpreter(self.limits)
            self.started += 1
        return await asyncio.get_running_loop().run_in_executor(self._cells, interpreter.run, code)

    async def release(self, sid: str) -> None:
        interpreter = self._live.pop(sid, None)
        if interpreter is not None:
            await asyncio.to_thread(interpreter.stop)

    async def close(self) -> None:
        for sid in list(self._live):
            await self.release(sid)
        self._cells.shutdown(wait=False, cancel_futures=True)
