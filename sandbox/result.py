"""What an execution produced, and why it ended."""

from __future__ import annotations

import signal
from enum import Enum

from pydantic import BaseModel, Field


class ExecStatus(str, Enum):
    ok = "ok"  # exited with code 0
    runtime_error = "runtime_error"  # non-zero exit code or killed by a signal
    timeout = "timeout"  # CPU or wall-clock limit
    memory_limit = "memory_limit"  # killed by the memory cgroup, or the runtime reported out-of-memory
    output_limit = "output_limit"  # stdout + stderr grew past the cap; the run was killed
    compile_error = "compile_error"  # the program did not compile (or, for Python, did not parse)
    sandbox_error = "sandbox_error"  # the sandbox could not run it (language unavailable, set-up failure)


class ExecResult(BaseModel):
    status: ExecStatus
    exit_code: int | None = None
    signal: int | None = Field(None, description="number of the signal that killed the program")
    stdout: str = ""
    stderr: str = ""
    truncated: bool = Field(False, description="stdout/stderr were cut at the output cap")
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is ExecStatus.ok

    @property
    def signal_name(self) -> str | None:
        if self.signal is None:
            return None
        try:
            return signal.Signals(self.signal).name
        except ValueError:
            return f"signal {self.signal}"

    @classmethod
    def sandbox_error(cls, message: str) -> ExecResult:
        return cls(status=ExecStatus.sandbox_error, message=message)
