"""Calling one function of untrusted Python source on many inputs, inside the sandbox.

The source is placed in a prepared program (`sandbox/call_driver.py` is that program's driver).
Each run imports the source once and then calls its function on every input of a batch, each
call in a fork of the loaded interpreter with its own time limit; the service never executes it.

    with FunctionHost(SOURCE, "score") as host:
        outcomes = host.call_many([["a", "b"], ["c", "d"]], call_timeout_s=1.0, deadline=time.monotonic() + 10)

A `FunctionHost` owns its own warm sandbox and keeps the program prepared between batches. Like
a `Sandbox`, it belongs to the thread that created it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from sandbox.limits import Limits
from sandbox.result import ExecStatus
from sandbox.session import Program, Sandbox

MAX_RUN_INPUT_CHARS = 8_000_000  # one run's stdin; a bigger batch takes several runs
MAX_RUN_CALLS = 256
_RUN_SLACK_S = 0.05  # the run's own start and exit, on top of its calls

CallStatus = Literal["ok", "error", "timeout", "crashed"]


@dataclass
class CallOutcome:
    status: CallStatus
    value: Any = None  # the JSON-decoded return value when `status` is ok
    message: str | None = None
    output: str = ""  # the tail of what a failed call printed
    wall_ms: float = 0.0


def _driver_source() -> str:
    with open(os.path.join(os.path.dirname(__file__), "call_driver.py"), encoding="utf-8") as fh:
        return fh.read()


_DRIVER = _driver_source()


class FunctionHost:
    """`entry` of `source`, callable many times; the module is imported once per batch."""

    def __init__(self, source: str, entry: str, *, limits: Limits | None = None, result_bytes: int = 64 << 10):
        self.source = source
        self.entry = entry
        self.limits = limits or Limits(memory_mb=256, max_processes=16)
        self.result_bytes = result_bytes
        self._box: Sandbox | None = None
        self._program: Program | None = None
        self._owner = (os.getpid(), threading.get_ident())

    def __enter__(self) -> FunctionHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owner[0] != os.getpid():  # a forked copy: the sandbox is the parent's
            self._program = self._box = None
            return
        if self._program is not None:
            self._program.close()
            self._program = None
        if self._box is not None:
            self._box.close()
            self._box = None

    def _prepared(self) -> Program:
        if self._owner != (os.getpid(), threading.get_ident()):
            raise RuntimeError("a FunctionHost is used only by the thread (and process) that created it")
        if self._program is None:
            self._box = Sandbox()
            self._program = self._box.program("python", _DRIVER, files={"module.py": self.source}, limits=self.limits)
        return self._program

    def check(self, timeout_s: float = 10.0) -> str | None:
        """Import the source and look up `entry`: None when both work, else what went wrong."""
        outcome = self._run([], call_timeout_s=timeout_s, wall_s=timeout_s)
        return outcome if isinstance(outcome, str) else None

    def call_many(self, calls: list[list[Any]], *, call_timeout_s: float, deadline: float) -> list[CallOutcome]:
        """Outcomes for a prefix of `calls`, in order: all of them unless time ran out.

        Returns at least one outcome while `deadline` (time.monotonic clock) is ahead; the caller
        runs the rest again, later. A call past `call_timeout_s` is killed and gets `timeout`.
        """
        remaining = deadline - time.monotonic()
        if not calls or remaining <= 0:
            return []
        batch, chars = [], 0
        for args in calls[:MAX_RUN_CALLS]:
            size = len(json.dumps(args))
            if batch and chars + size > MAX_RUN_INPUT_CHARS:
                break
            batch.append(args)
            chars += size
        call_timeout_s = max(0.01, min(call_timeout_s, remaining))
        outcome = self._run(batch, call_timeout_s=call_timeout_s, wall_s=remaining)
        if isinstance(outcome, str):  # the module itself failed: every call of the batch fails with it
            return [CallOutcome(status="error", message=outcome) for _ in batch]
        return outcome

    def _run(self, calls: list[list[Any]], *, call_timeout_s: float, wall_s: float) -> list[CallOutcome] | str | None:
        """One run: the outcomes of an answered prefix, or why the module failed (None: loaded, no calls)."""
        limits = self.limits.model_copy(update={
            "wall_time_s": max(0.05, wall_s) + _RUN_SLACK_S,
            "cpu_time_s": max(1.0, min(self.limits.cpu_time_s, call_timeout_s + 1.0)),
        })
        request = {"entry": self.entry, "calls": calls, "call_timeout_s": call_timeout_s, "budget_s": wall_s,
                   "result_bytes": self.result_bytes}
        try:
            result, channel = self._prepared().run_raw(stdin=json.dumps(request), limits=limits)
        except Exception as exc:  # noqa: BLE001 - a broken sandbox is reported, never raised past here
            self.close()
            return f"sandbox failure: {exc}"
        events = _parse_events(channel)
        if result.status is ExecStatus.sandbox_error or result.status is ExecStatus.compile_error:
            self.close()  # start clean next time
            return result.message or result.stderr[-500:] or result.status.value
        if not events or ("loaded" not in events[0] and "load_error" not in events[0]):
            ended = {ExecStatus.timeout: f"it did not finish loading within {wall_s:g} s",
                     ExecStatus.memory_limit: "it ran out of memory while loading"}.get(
                result.status, result.message or result.status.value)
            return f"the module failed to load: {ended}"
        if "load_error" in events[0]:
            trace = events[0].get("trace") or ""
            return f"the module failed to load: {events[0]['load_error']}" + (f"\n{trace}" if trace else "")
        outcomes: list[CallOutcome] = []
        for event in events[1:]:
            if event.get("i") != len(outcomes) or len(outcomes) >= len(calls):
                break
            outcomes.append(_outcome(event))
        if len(outcomes) < len(calls) and result.status is not ExecStatus.timeout:
            # The run ended early without the run's wall limit: the next call took it down.
            reason = {ExecStatus.memory_limit: "the call ran out of memory",
                      ExecStatus.output_limit: "the call wrote too much output"}.get(
                result.status, f"the call ended the run ({result.message or result.status.value})")
            outcomes.append(CallOutcome(status="crashed", message=reason, output=result.stderr[-2000:]))
        elif not outcomes and calls:
            outcomes.append(CallOutcome(status="timeout", message=f"the call ran past its time limit of {call_timeout_s:g} s"))
        return outcomes or None


def _outcome(event: dict) -> CallOutcome:
    status = event.get("status")
    wall = float(event.get("ms") or 0.0)
    if status == "ok":
        try:
            value = json.loads(event.get("value", "null"))
        except ValueError:
            return CallOutcome(status="error", message="the return value could not be read", wall_ms=wall)
        return CallOutcome(status="ok", value=value, wall_ms=wall)
    if status not in ("error", "timeout", "crashed"):
        return CallOutcome(status="error", message=f"unexpected report {str(event)[:200]}", wall_ms=wall)
    message = str(event.get("message") or status)
    trace = event.get("trace")
    if trace:
        message = f"{message}\n{trace}"
    return CallOutcome(status=status, message=message, output=str(event.get("output") or ""), wall_ms=wall)


def _parse_events(channel: str) -> list[dict]:
    events = []
    for line in channel.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            break  # a line cut short when the run was stopped
        if not isinstance(event, dict):
            break
        events.append(event)
    return events
