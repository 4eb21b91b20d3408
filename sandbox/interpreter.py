"""A persistent, sandboxed Python interpreter: variables live from one `run` to the next.

    with PythonInterpreter() as py:
        py.run("x = 41")
        py.run("x + 1").stdout        # '42\\n'

One interpreter is one process (`sandbox/repl.py`) started by the same launcher as the warm
sandbox (bubblewrap: every namespace, read-only system, seccomp) in its own cgroup (memory +
process count). Per cell, a wall-clock limit and an output cap apply; CPU time is limited for
the whole life of the interpreter. A cell that runs past its wall clock, or an interpreter
killed by a limit, ends the interpreter: `run` reports why (`CellResult.stopped`) and the next
`run` starts a fresh one. Nothing here raises for the program's sake.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import select
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass

from sandbox import repl, zygote
from sandbox.cgroups import SandboxCgroup, detect
from sandbox.launcher import Launcher, default_launcher, spawn_from_a_lasting_thread, stop_launched
from sandbox.limits import Limits

log = logging.getLogger(__name__)

# The defaults of one interpreter: CPU time is for its whole life, wall time per cell.
INTERPRETER_LIMITS = Limits(cpu_time_s=60.0, wall_time_s=10.0, memory_mb=512, max_processes=32,
                            disk_mb=64, output_bytes=64 << 10)
MAX_CODE_BYTES = 1 << 20
_CONTROL_FRAME_CAP = 64 << 10  # the interpreter only ever sends tiny frames
_INTERPRETER_OVERHEAD_BYTES = 32 << 20  # bwrap and its init, on top of the interpreter's own limit
_EXTRA_TASKS = 3  # bwrap, its init, the interpreter itself
_SOURCE: str | None = None


class InterpreterError(RuntimeError):
    """The interpreter could not be started."""


@dataclass
class CellResult:
    """What one cell did. `stopped` says why the interpreter ended (its state is gone), else None."""

    stdout: str = ""
    stderr: str = ""
    error: bool = False  # the cell raised (a traceback is in stderr); the interpreter lives on
    truncated: bool = False
    # "timeout", "memory_limit", "cpu_limit", "crashed", "closed", "start_failed" (or, from a pool
    # of interpreters, "unavailable")
    stopped: str | None = None
    message: str | None = None
    wall_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error and self.stopped is None


def _source(limits: dict) -> str:
    """The program the launcher runs: the warm parent's kernel helpers, then the interpreter loop."""
    global _SOURCE
    if _SOURCE is None:
        with open(zygote.__file__, encoding="utf-8") as fh:
            helpers = fh.read()
        with open(repl.__file__, encoding="utf-8") as fh:
            loop = fh.read()
        # The helpers run as a module of their own (their `__main__` block must not start a warm
        # parent); their names are then lent to the interpreter loop.
        _SOURCE = (f"_helpers = {{'__name__': 'sandbox_helpers'}}\n"
                   f"exec(compile({helpers!r}, 'zygote.py', 'exec'), _helpers)\n"
                   "globals().update({k: v for k, v in _helpers.items() if not k.startswith('__')})\n"
                   f"{loop}\n")
    return _SOURCE + f"repl_main(int(_sys.argv[1]), {json.dumps(limits)!r})\n"


class PythonInterpreter:
    """One persistent interpreter; `run` is thread-safe (cells of one interpreter run one at a time)."""

    def __init__(self, limits: Limits | None = None, launcher: Launcher | None = None,
                 use_cgroups: bool = True, start_timeout_s: float = 30.0):
        self.limits = limits or INTERPRETER_LIMITS
        self.launcher = launcher or default_launcher()
        self.use_cgroups = use_cgroups
        self.start_timeout_s = start_timeout_s
        self.cells = 0
        self.starts = 0
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._cgroup: SandboxCgroup | None = None
        self._closed = False

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ------------------------------------------------------------------------------

    def _start(self) -> None:
        reason = self.launcher.unavailable_reason()
        if reason:
            raise InterpreterError(reason)
        hierarchy = detect() if self.use_cgroups else None
        self._cgroup = hierarchy.create() if hierarchy else None
        limits = self.limits.model_dump()
        if self._cgroup is not None:
            self._cgroup.set_limits(_INTERPRETER_OVERHEAD_BYTES + (self.limits.memory_mb << 20),
                                    self.limits.max_processes + _EXTRA_TASKS)
        else:  # no memory cgroup: rlimits stand in (see Sandbox.job_limits)
            limits["data_mb"] = self.limits.memory_mb * 2 + 512
            limits["nproc"] = self.limits.max_processes + _EXTRA_TASKS
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        spec = self.launcher.spec(_source(limits), theirs.fileno())
        procs = self._cgroup.procs_files if self._cgroup else []
        # Join the cgroup first, then exec the launcher: everything it starts is inside.
        join = ('n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 97; shift; n=$((n-1)); done; '
                'ulimit -S -v unlimited 2>/dev/null; exec "$@"')
        argv = ["/bin/sh", "-c", join, "sh", str(len(procs)), *procs, *spec.argv]
        try:
            self._proc = spawn_from_a_lasting_thread(lambda: subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=spec.pass_fds, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, close_fds=True,
                start_new_session=True,
            ))
        finally:
            theirs.close()
            for fd in spec.close_after_start:
                os.close(fd)
        self._sock = ours
        self.starts += 1
        hello = self._read_control(time.monotonic() + self.start_timeout_s)
        if not isinstance(hello, dict) or not hello.get("ready"):
            said = self._drain_stderr()
            self._kill()
            raise InterpreterError(f"the interpreter did not start: {said or hello}")

    def _drain_stderr(self) -> str:
        if self._proc is None or self._proc.stderr is None:
            return ""
        os.set_blocking(self._proc.stderr.fileno(), False)
        try:
            return (self._proc.stderr.read(4000) or b"").decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def _kill(self) -> None:
        """Stop every process of this interpreter and free its descriptors and cgroup."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_launched(proc)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._cgroup is not None:
            self._cgroup.kill_all()
            self._cgroup.remove()
            self._cgroup = None

    def stop(self) -> None:
        """Kill the interpreter now, even while a cell runs (that cell reports `closed`)."""
        self._closed = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        with self._lock:  # the running cell, if any, sees the death at once and returns
            self._kill()

    close = stop

    def __enter__(self) -> PythonInterpreter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- cells ----------------------------------------------------------------------------------

    def run(self, code: str) -> CellResult:
        """Run one cell in the persistent namespace. A final expression's repr is printed."""
        data = code.encode("utf-8", "surrogatepass") if isinstance(code, str) else b""
        if not isinstance(code, str) or len(data) > MAX_CODE_BYTES:
            return CellResult(error=True, message=f"code must be a string of at most {MAX_CODE_BYTES} bytes")
        with self._lock:
            if self._closed:
                return CellResult(stopped="closed", message="the interpreter was closed")
            if not self.alive:
                self._kill()
                try:
                    self._start()
                except (InterpreterError, OSError) as exc:
                    self._kill()
                    return CellResult(stopped="start_failed", message=f"the interpreter could not start: {exc}")
            self.cells += 1
            return self._run_cell(code)

    def _run_cell(self, code: str) -> CellResult:
        assert self._proc is not None and self._sock is not None
        limits = self.limits
        start = time.monotonic()
        deadline = start + limits.wall_time_s
        nonce = secrets.token_hex(8)
        before_oom = self._cgroup.oom_kills() if self._cgroup is not None else 0
        payload = json.dumps({"code": code, "nonce": nonce}).encode()
        try:
            self._sock.sendall(len(payload).to_bytes(4, "big") + payload)
        except OSError:
            return self._ended(start, before_oom, "", "", False)
        out, err = bytearray(), bytearray()
        streams = {self._proc.stdout.fileno(): out, self._proc.stderr.fileno(): err}  # type: ignore[union-attr]
        control = bytearray()
        truncated = False
        cap = limits.output_bytes
        poller = select.poll()  # not select(): a busy server's descriptors run past FD_SETSIZE
        for fd in (self._sock.fileno(), *streams):
            poller.register(fd, select.POLLIN)
        done: dict | None = None
        while done is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                return CellResult(stdout=_text(out), stderr=_text(err), truncated=truncated, stopped="timeout",
                                  message=f"the cell ran past its wall-clock limit of {limits.wall_time_s:g} s; "
                                          "the interpreter was stopped and its variables are lost",
                                  wall_ms=(time.monotonic() - start) * 1000)
            for fd, _ in poller.poll(remaining * 1000):
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    return self._ended(start, before_oom, _text(out), _text(err), truncated)
                if fd in streams:
                    # Past the cap the output is read and dropped: the cell runs on (to its wall
                    # clock), and the variables survive a chatty cell.
                    room = cap - len(out) - len(err)
                    if room > 0:
                        streams[fd] += chunk[:room]
                    if len(chunk) > room:
                        truncated = True
                    continue
                control += chunk
                done = _parse_done(control, nonce)
                if done is False:
                    self._kill()
                    return CellResult(stdout=_text(out), stderr=_text(err), stopped="crashed",
                                      message="the interpreter broke its control channel; it was stopped",
                                      wall_ms=(time.monotonic() - start) * 1000)
        for fd, buffer in streams.items():  # what the cell wrote before it signalled is in the pipes
            truncated = _drain(fd, buffer, cap - len(out) - len(err)) or truncated
        return CellResult(stdout=_text(out), stderr=_text(err), error=bool(done.get("error")), truncated=truncated,
                          wall_ms=(time.monotonic() - start) * 1000)

    def _ended(self, start: float, before_oom: int, stdout: str, stderr: str, truncated: bool) -> CellResult:
        """The interpreter died during a cell: say which limit (or what) ended it."""
        proc = self._proc
        status = proc.wait(timeout=5) if proc is not None else None
        oom = self._cgroup is not None and self._cgroup.oom_kills() > before_oom
        closed = self._closed
        self._kill()
        if closed:
            stopped, message = "closed", "the interpreter was closed"
        elif oom:
            stopped, message = "memory_limit", f"the interpreter ran out of memory ({self.limits.memory_mb} MiB)"
        elif status in (-signal.SIGKILL, -signal.SIGXCPU, 128 + signal.SIGKILL, 128 + signal.SIGXCPU):
            stopped, message = "cpu_limit", (f"the interpreter was killed (CPU limit of {self.limits.cpu_time_s:g} s "
                                             "for the session, or a signal)")
        else:
            stopped, message = "crashed", f"the interpreter exited (status {status})"
        return CellResult(stdout=stdout, stderr=stderr, truncated=truncated, stopped=stopped,
                          message=message + "; its variables are lost, the next call starts a fresh one",
                          wall_ms=(time.monotonic() - start) * 1000)

    def _read_control(self, deadline: float) -> dict | None:
        assert self._sock is not None
        buffer = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            poller = select.poll()
            poller.register(self._sock.fileno(), select.POLLIN)
            if not poller.poll(remaining * 1000):
                return None
            chunk = self._sock.recv(65536)
            if not chunk:
                return None
            buffer += chunk
            frame = _frame(buffer)
            if frame is not None:
                return frame


def _frame(buffer: bytearray) -> dict | None | bool:
    """The first complete frame in `buffer`, None if incomplete, False if malformed."""
    if len(buffer) < 4:
        return None
    size = int.from_bytes(buffer[:4], "big")
    if size > _CONTROL_FRAME_CAP:
        return False
    if len(buffer) < 4 + size:
        return None
    try:
        message = json.loads(bytes(buffer[4:4 + size]))
    except ValueError:
        return False
    return message if isinstance(message, dict) else False


def _parse_done(buffer: bytearray, nonce: str) -> dict | None | bool:
    frame = _frame(buffer)
    if frame is None or frame is False:
        return frame
    if frame.get("done") != nonce:
        return False
    return frame


def _drain(fd: int, buffer: bytearray, room: int) -> bool:
    """Read what is left in a pipe without blocking, keeping at most `room` bytes; True if some were dropped."""
    dropped = False
    os.set_blocking(fd, False)
    try:
        while chunk := os.read(fd, 65536):
            if room > 0:
                buffer += chunk[:room]
            dropped = dropped or len(chunk) > room
            room -= len(chunk)
    except BlockingIOError:
        pass
    finally:
        os.set_blocking(fd, True)
    return dropped


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", "replace")
