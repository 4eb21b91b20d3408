"""A javac kept warm, outside every program's sandbox, so a Java program compiles in tens of
milliseconds instead of a JVM start plus javac's class loading (~250 ms even with the class
archive of sandbox/pch.py).

The server (sandbox/java/RefereeJavacServer.java, compiled once per host by sandbox/pch.py from
that fixed source) runs in a bubblewrap of its own (`BubblewrapLauncher.tool_spec`): new
namespaces of every kind, so no network and no process a program could see or signal, nothing
writable, no capabilities, its own host uid. Only this process holds its stdin and stdout, the
one channel it has: no program run can reach it. It compiles with `-proc:none`, so compiling
never runs code of the program, and each request gets a fresh compiler task over sources and
class files held in memory. A compile that passes its wall time kills the server; a server that
breaks (died, bad reply, out of memory) is killed and that compile falls back to javac in the
program's sandbox; either way the next compile starts a fresh server.
"""

from __future__ import annotations

import logging
import os
import select
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO

from sandbox import pch
from sandbox.languages import JAVAC_JVM_FLAGS
from sandbox.launcher import BubblewrapLauncher, Launcher, spawn_from_a_lasting_thread, stop_launched

log = logging.getLogger(__name__)

JAVA = "/usr/bin/java"
SERVER_CLASS = "RefereeJavacServer"
SERVER_DIR = "/javac-server"  # where the server's sandbox sees its class directory, read-only
SERVER_ARCHIVE = "/javac.jsa"  # and javac's class-data archive (sandbox/pch.py), when it is ready
# javac's own JVM flags, a bounded heap, a fresh server after an out-of-memory error, and everything
# the JVM itself prints on stderr (stdout carries the replies only). No -Xss: javac compiles on the
# main thread with the stack command-line javac has, so a source too deep for it fails here the same way.
JVM_FLAGS = (*(flag.removeprefix("-J") for flag in JAVAC_JVM_FLAGS), "-Xmx512m", "-XX:+ExitOnOutOfMemoryError",
             "-XX:+DisplayVMOutputToStderr", "-Xlog:disable", "-Xlog:all=warning:stderr")
# The options of the language table's javac (`-encoding UTF-8`), and no annotation processing.
OPTIONS = ("-proc:none", "-encoding", "UTF-8")
START_TIMEOUT_S = 30.0
MAX_REPLY_BYTES = 256 << 20
_READY = 0x52454631
_INT = struct.Struct("!i")
_STATUS = struct.Struct("!iq")  # status, CPU nanoseconds
_warned: set[str] = set()


@dataclass
class Compiled:
    """What one compile in the warm server gave."""

    ok: bool = False
    diagnostics: bytes = b""  # as command-line javac prints them
    classes: dict[str, bytes] = field(default_factory=dict)  # relative path (p/Main.class) -> bytes
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    timed_out: bool = False


class WarmJavac:
    """One warm javac server (per `Sandbox`), started on the first compile; one request at a time
    (the caller holds its sandbox's lock)."""

    def __init__(self, launcher: Launcher):
        self.launcher = launcher
        self.disabled: str | None = None  # why this one is not used (then javac runs in the sandbox)
        self._proc: subprocess.Popen | None = None
        self._stderr: IO[bytes] | None = None
        self._owner_pid = os.getpid()

    @property
    def pid(self) -> int | None:
        """The host pid of the server's bubblewrap while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def compile(self, sources: dict[str, bytes], timeout_s: float) -> Compiled | None:
        """Compile `sources` (file name -> UTF-8) within `timeout_s` seconds of wall time. None when
        the warm server cannot do it now: compile with javac in the program's sandbox instead."""
        if self._owner_pid != os.getpid():
            self.forget()
        if self.disabled is not None:
            return None
        start = time.monotonic()
        deadline = start + timeout_s
        try:
            if self.pid is None and not self._start(deadline):
                return None
            assert self._proc is not None and self._proc.stdin is not None and self._proc.stdout is not None
            _write_all(self._proc.stdin.fileno(), _request(sources), deadline)
            status, cpu_ns = _STATUS.unpack(_read(self._proc.stdout.fileno(), _STATUS.size, deadline))
            reader = _Reader(self._proc.stdout.fileno(), deadline)
            diagnostics = reader.blob()
            classes = {reader.blob().decode("utf-8"): reader.blob() for _ in range(reader.count())}
        except TimeoutError:
            self.stop()
            return Compiled(timed_out=True, wall_ms=(time.monotonic() - start) * 1000)
        except (OSError, EOFError, ValueError) as exc:  # died, or answered out of protocol
            self._broken(f"warm javac failed ({exc}); compiling this program in its sandbox")
            return None
        except BaseException:
            self.stop()  # interrupted mid-request: a late reply must never answer the next one
            raise
        if status not in (0, 1):  # the compiler itself failed: the server exits; javac in the sandbox decides
            self._broken(f"warm javac crashed: {diagnostics[-500:].decode('utf-8', 'replace')}")
            return None
        return Compiled(ok=status == 0, diagnostics=diagnostics, classes=classes,
                        wall_ms=(time.monotonic() - start) * 1000, cpu_ms=cpu_ns / 1e6)

    def _start(self, deadline: float) -> bool:
        """Start the server and wait until its compiler is loaded. False when it is not ready to be
        used (its class is still being built, or it cannot start here: then `disabled` says why)."""
        if not isinstance(self.launcher, BubblewrapLauncher) or not os.access(JAVA, os.X_OK):
            self._disable("the warm javac needs bubblewrap and a JDK")
            return False
        if self.launcher.unavailable_reason():
            self._disable(str(self.launcher.unavailable_reason()))
            return False
        directory = pch.javac_server_dir()
        if directory is None:  # being built in the background: the next program uses it
            return False
        binds, flags = {directory: SERVER_DIR}, list(JVM_FLAGS)
        archive = pch.javac_archive()
        if archive:  # the JVM checks it against the JDK it runs and ignores one that does not match
            binds[archive] = SERVER_ARCHIVE
            flags.append(f"-XX:SharedArchiveFile={SERVER_ARCHIVE}")
        spec = self.launcher.tool_spec([JAVA, *flags, "-cp", SERVER_DIR, SERVER_CLASS], binds)
        self._stderr = tempfile.TemporaryFile()
        stderr = self._stderr
        try:
            self._proc = spawn_from_a_lasting_thread(lambda: subprocess.Popen(
                spec.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, pass_fds=spec.pass_fds,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, close_fds=True, start_new_session=True))
        except OSError as exc:
            self._disable(f"the warm javac could not start: {exc}")
            return False
        finally:
            for fd in spec.close_after_start:
                os.close(fd)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        os.set_blocking(self._proc.stdin.fileno(), False)  # a server that stops reading cannot block us
        try:
            ready = _read(self._proc.stdout.fileno(), _INT.size, min(deadline, time.monotonic() + START_TIMEOUT_S))
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise  # the compile's own time is up
            ready = b""
        except (OSError, EOFError):
            ready = b""
        if ready != _INT.pack(_READY):
            self._disable(f"the warm javac did not start: {self._stderr_tail()}")
            return False
        return True

    def _disable(self, reason: str) -> None:
        self.stop()
        self.disabled = reason
        _warn_once(f"{reason}; Java programs compile with javac in their sandbox")

    def _broken(self, message: str) -> None:
        said = self._stderr_tail()
        self.stop()
        log.warning("%s%s", message, f"; it said: {said}" if said else "")

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, self._stderr.tell() - 2000))
            return self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def stop(self) -> None:
        """Kill the server (its sandbox dies with bubblewrap); the next compile starts a fresh one."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_launched(proc)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def forget(self) -> None:
        """Drop (without stopping) a server inherited through fork: it belongs to the parent. Our
        copies of its pipes are closed; the parent's stay open."""
        if self._proc is not None:
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream is not None:
                    try:
                        stream.close()  # nothing buffered: requests are written to the descriptor
                    except (OSError, ValueError):
                        pass
        self._proc = self._stderr = None
        self._owner_pid = os.getpid()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


def _blob(data: bytes) -> bytes:
    return _INT.pack(len(data)) + data


def _request(sources: dict[str, bytes]) -> bytes:
    parts = [_INT.pack(len(OPTIONS)), *(_blob(option.encode()) for option in OPTIONS), _INT.pack(len(sources))]
    for name, text in sources.items():
        parts += [_blob(name.encode("utf-8")), _blob(text)]
    return b"".join(parts)


def _wait(fd: int, deadline: float, writing: bool = False) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    ready = select.select([], [fd], [], left)[1] if writing else select.select([fd], [], [], left)[0]
    if not ready:
        raise TimeoutError


def _write_all(fd: int, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        _wait(fd, deadline, writing=True)
        try:
            view = view[os.write(fd, view[:1 << 16]):]
        except BlockingIOError:
            pass


def _read(fd: int, n: int, deadline: float) -> bytes:
    data = bytearray()
    while len(data) < n:
        _wait(fd, deadline)
        chunk = os.read(fd, min(n - len(data), 1 << 20))
        if not chunk:
            raise EOFError("the warm javac closed its output")
        data += chunk
    return bytes(data)


class _Reader:
    """Counts and blobs of one reply, at most MAX_REPLY_BYTES in all."""

    def __init__(self, fd: int, deadline: float):
        self.fd, self.deadline, self.budget = fd, deadline, MAX_REPLY_BYTES

    def _int(self) -> int:
        (value,) = _INT.unpack(_read(self.fd, _INT.size, self.deadline))
        if value < 0 or value > self.budget:
            raise ValueError(f"bad length {value} in the warm javac's reply")
        return value

    def count(self) -> int:
        return self._int()

    def blob(self) -> bytes:
        length = self._int()
        self.budget -= length
        return _read(self.fd, length, self.deadline)
