"""The service side of a warm sandbox: start it, send it programs and runs, read the facts back.

A `Sandbox` owns one warm parent (see `sandbox/zygote.py`) running in isolation, plus its
cgroup. It runs one program at a time; use one `Sandbox` per thread or process (see
`shared_sandbox()`), or several for parallelism.

    with Sandbox() as box:
        result = box.execute("python", "print(input()[::-1])", stdin="abc")
        with box.program("c", C_SOURCE) as prog:   # compiled once
            for case in cases:
                prog.run(stdin=case)
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from typing import Any

from sandbox import harness, pch, zygote
from sandbox.cgroups import SandboxCgroup, detect
from sandbox.languages import SANDBOX_PATH, Language, find_language, missing_toolchain
from sandbox.launcher import (BubblewrapLauncher, Launcher, default_launcher, spawn_from_a_lasting_thread,
                              stop_launched)
from sandbox.limits import Limits
from sandbox.result import ExecResult, ExecStatus
from sandbox.warm_javac import WarmJavac

log = logging.getLogger(__name__)
_ZYGOTE_SOURCE: str | None = None
# The warm parent runs from source inside the sandbox, where this package is not importable.
_HARNESS_IMPORT = (
    "try:  # the service side; sandbox/session.py inlines sandbox/harness.py in place of these four lines\n"
    "    from sandbox.harness import run_trusted_test, send_message, serve_program_calls\n"
    "except ImportError:  # run as source without the harness (sandbox/interpreter.py): no assert tests there\n"
    "    run_trusted_test = send_message = serve_program_calls = None\n")
_shared_lock = threading.Lock()
_PARENT_OVERHEAD_BYTES = 48 << 20  # the warm parent, bwrap and page tables, on top of the run's own limit
# Outer bwrap, its init, the warm parent, the test server, and the run's init (a compiled program) or
# the program parent (a large Python program; a small one's runs fork from the warm parent: one fewer).
# +1 during a trusted test.
_PARENT_TASKS = 5
# A trusted test process: one Python process, a Node with its own threads (V8's workers), or a
# native test and the compiler that builds it.
_TEST_RUNNER_TASKS = {"native": 8}  # the compiler's processes, then the test
_CONTROL_SLACK_S = 15.0  # how long past a run's own wall limit we wait before declaring the sandbox hung


def _test_tasks(test: dict | None) -> int:
    """The tasks (processes and threads) the trusted test process of `test` may need."""
    if test is None:
        return 0
    tasks = test.get("tasks")  # a test may say what it runs (Node's threads, a JVM's)
    return int(tasks) if isinstance(tasks, int) else _TEST_RUNNER_TASKS.get(test.get("runner"), 1)


class SandboxError(RuntimeError):
    """The sandbox itself failed (could not start, crashed, hung)."""


def _zygote_source() -> str:
    global _ZYGOTE_SOURCE
    if _ZYGOTE_SOURCE is None:
        with open(zygote.__file__, encoding="utf-8") as fh:
            source = fh.read()
        with open(harness.__file__, encoding="utf-8") as fh:
            inlined = fh.read()
        if _HARNESS_IMPORT not in source:
            raise RuntimeError("sandbox/zygote.py lost the line where the harness is inlined")
        _ZYGOTE_SOURCE = source.replace(_HARNESS_IMPORT, inlined, 1)
    return _ZYGOTE_SOURCE


def run_env(lang: Language) -> dict[str, str]:
    """The whole environment a program sees: nothing of the service's."""
    env = {"PATH": SANDBOX_PATH, "HOME": "/work", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "USER": "sandbox", "LOGNAME": "sandbox"}
    env.update(lang.env)
    return env


class Sandbox:
    """One warm, isolated parent that forks a fresh isolated child for every run.

    The sandbox has its own network namespace (loopback only). `fresh_network_per_run` adds a
    new one per run; it is off by default because runs of one sandbox are strictly sequential
    and nothing of a run survives it, so there is no other run to reach over loopback.
    """

    def __init__(self, launcher: Launcher | None = None, *, fresh_network_per_run: bool = False,
                 use_cgroups: bool = True, start_timeout_s: float = 30.0):
        self.launcher = launcher or default_launcher()
        self.fresh_network_per_run = fresh_network_per_run
        self.use_cgroups = use_cgroups
        self.start_timeout_s = start_timeout_s
        self.lock = threading.RLock()
        self.generation = 0  # bumped on every (re)start: programs prepared before it must be re-sent
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._cgroup: SandboxCgroup | None = None
        self._baseline_bytes = 0
        self._stderr_file: Any = None
        self._owner_pid = os.getpid()
        self.pch_bound: tuple[int, int] | None = None  # the compiler-cache directory bound at /pch
        self.warm_javac = WarmJavac(self.launcher)  # Java's compiler, outside the sandbox (sandbox/warm_javac.py)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and self._owner_pid == os.getpid()

    @property
    def cgroup(self) -> SandboxCgroup | None:
        return self._cgroup

    def start(self) -> None:
        with self.lock:
            if self.alive:
                return
            if self._owner_pid != os.getpid():  # a forked copy: the running sandbox is the parent's
                self._forget()
            try:
                self._start()
            except SandboxError as exc:
                launcher = self.launcher
                if not (isinstance(launcher, BubblewrapLauncher) and launcher.drop_root and os.geteuid() == 0):
                    raise
                launcher.drop_root = False  # this host forbids unprivileged user namespaces
                try:
                    self._start()
                except SandboxError:
                    launcher.drop_root = True
                    raise exc from None
                log.warning("sandbox: unprivileged user namespaces are not allowed here; the sandbox "
                            "uid maps to host root (still without capabilities). First error: %s", exc)

    def _start(self) -> None:
        self._teardown()
        reason = self.launcher.unavailable_reason()
        if reason:
            raise SandboxError(reason)
        self._owner_pid = os.getpid()
        hierarchy = detect() if self.use_cgroups else None
        self._cgroup = hierarchy.create() if hierarchy else None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.pch_bound = pch.bound_identity()  # the launcher binds this directory at /pch
        spec = self.launcher.spec(_zygote_source(), theirs.fileno())
        procs = self._cgroup.procs_files if self._cgroup else []
        # A shell joins the cgroup and then execs the launcher: everything it starts is inside.
        # It also lifts a soft address-space limit the caller may have (JVMs reserve gigabytes).
        join = ('n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 97; shift; n=$((n-1)); done; '
                'ulimit -S -v unlimited 2>/dev/null; exec "$@"')
        self._stderr_file = tempfile.TemporaryFile()
        argv = ["/bin/sh", "-c", join, "sh", str(len(procs)), *procs, *spec.argv]
        try:
            self._proc = spawn_from_a_lasting_thread(lambda: subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr_file,
                pass_fds=spec.pass_fds, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, close_fds=True,
            ))
        finally:
            theirs.close()
            for fd in spec.close_after_start:
                os.close(fd)
        self._sock = ours
        try:
            hello = self._recv(self.start_timeout_s)
        except SandboxError as exc:
            said = self._launcher_stderr()
            self._teardown()
            raise SandboxError(f"{exc}; launcher said: {said}") from None
        if not hello.get("ready"):
            self._teardown()
            raise SandboxError(f"sandbox did not start: {hello}")
        self.generation += 1
        _close_at_exit(self)
        self._baseline_bytes = self._cgroup.usage_bytes() if self._cgroup else 0
        if self.fresh_network_per_run:
            self._request({"op": "configure", "fresh_network": True})

    def _launcher_stderr(self) -> str:
        if self._stderr_file is None:
            return ""
        self._stderr_file.seek(0)
        return self._stderr_file.read(4000).decode("utf-8", "replace").strip()

    def _teardown(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            stop_launched(self._proc)
            self._proc = None
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    def _forget(self) -> None:
        """Drop (without stopping) a sandbox inherited through fork: it belongs to the parent."""
        if self._sock is not None:
            self._sock.close()
        self._proc = self._sock = self._cgroup = self._stderr_file = None
        self._owner_pid = os.getpid()
        self.warm_javac.forget()

    def close(self) -> None:
        with self.lock:
            if self._owner_pid == os.getpid():
                self._teardown()
                self.warm_javac.stop()
            else:
                self._forget()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the control channel ----------------------------------------------------------------------

    def _recv(self, timeout_s: float) -> dict:
        assert self._sock is not None
        ready, _, _ = select.select([self._sock], [], [], timeout_s)
        if not ready:
            raise SandboxError("sandbox did not answer in time")
        try:
            return zygote.recv_frame(self._sock.fileno())
        except (EOFError, OSError, ValueError) as exc:
            raise SandboxError(f"sandbox channel broke: {exc}") from None

    def _request(self, message: dict, timeout_s: float = 30.0, trailer: dict | None = None) -> dict:
        """Send `message` (and `trailer`, a frame read by the sandbox's test server) and await the reply."""
        if not self.alive:
            self.start()
        try:
            zygote.send_frame(self._sock.fileno(), message)  # type: ignore[union-attr]
        except zygote.FrameTooLarge as exc:  # refused before anything was sent: the sandbox is still good
            raise SandboxError(str(exc)) from None
        except BaseException as exc:
            self._teardown()  # a half-sent frame leaves the channel out of step
            if isinstance(exc, OSError):
                raise SandboxError(str(exc)) from None
            raise
        try:
            if trailer is not None:  # the request is sent already: a refused trailer ends this sandbox too
                zygote.send_frame(self._sock.fileno(), trailer)  # type: ignore[union-attr]
            reply = self._recv(timeout_s)
        except (SandboxError, OSError, ValueError) as exc:
            self._teardown()  # a broken or hung parent is never reused
            raise SandboxError(str(exc)) from None
        except BaseException:
            self._teardown()  # interrupted mid-request: a late reply must never answer the next one
            raise
        if "error" in reply:
            self._teardown()  # a sandbox that failed in any way is replaced, never reused
            raise SandboxError(reply["error"])
        return reply

    # -- programs and runs ------------------------------------------------------------------------

    def program(self, language: str, source: str, *, files: dict[str, str] | None = None,
                limits: Limits | None = None, deadline: float | None = None) -> Program:
        """Prepare (and compile, once) a program; run it with `Program.run`. Use as a context manager.
        `deadline` (time.monotonic clock) bounds the compile as well as the program's own limits do."""
        return Program(self, language, source, files=files, limits=limits, deadline=deadline)

    def execute(self, language: str, source: str, *, stdin: str = "", files: dict[str, str] | None = None,
                limits: Limits | None = None) -> ExecResult:
        """Compile if needed and run once, compile and run together within `limits`' wall and CPU
        time. `files` are placed in the working directory."""
        limits = limits or Limits()
        deadline = time.monotonic() + limits.wall_time_s
        with self.program(language, source, limits=limits, deadline=deadline) as prog:
            if prog.compile_result is not None and not prog.compile_result.ok:
                return prog.compile_result
            return prog.run(stdin=stdin, files=files, limits=prog.remaining_limits())

    def prebuild_test(self, test: dict, limits: Limits) -> None:
        """Have the sandbox's test server start building a native test's executable now (see
        sandbox/cpp_bridge.py), so that it builds while the program compiles. Best effort: the
        run builds it anyway if this did not."""
        with self.lock:
            try:
                if not self.alive:
                    self.start()
                self._request({"op": "prebuild", "limits": self.job_limits(limits)}, trailer=test)
            except SandboxError as exc:
                log.warning("sandbox: a test could not be built ahead: %s", exc)

    def _run_job(self, job: dict, limits: Limits, test: dict | None = None,
                 parents: int = _PARENT_TASKS) -> tuple[dict, bool]:
        """Send one run; returns the raw facts and whether the memory limit killed something."""
        with self.lock:
            if not self.alive:
                self.start()
            self.apply_limits(limits, test_tasks=_test_tasks(test), parents=parents)
            before = self._cgroup.oom_kills() if self._cgroup is not None else 0
            raw = self._request({"op": "run", "job": job}, timeout_s=limits.wall_time_s + _CONTROL_SLACK_S,
                                trailer=test)
            oom = self._cgroup is not None and self._cgroup.oom_kills() > before
            if raw.get("setup_error"):
                self._teardown()  # the run could not be set up: the next one gets a fresh sandbox
            return raw, oom

    def apply_limits(self, limits: Limits, test_tasks: int = 0, parents: int = _PARENT_TASKS) -> None:
        """Set the cgroup to what one run (or compile) under `limits` may use; `parents`: the
        sandbox's own tasks besides the run (see `_PARENT_TASKS`); `test_tasks`: the trusted test
        process's (see `_test_tasks`)."""
        if self._cgroup is not None:
            self._cgroup.set_limits(self._baseline_bytes + _PARENT_OVERHEAD_BYTES + (limits.memory_mb << 20),
                                    limits.max_processes + parents + test_tasks)

    def job_limits(self, limits: Limits, parents: int = _PARENT_TASKS) -> dict:
        data = limits.model_dump()
        if self._cgroup is None:
            # No memory cgroup: RLIMIT_DATA, not RLIMIT_AS (OpenBLAS threads and JVMs reserve far more
            # address space than they touch). DATA still counts reserved thread stacks and heaps, hence
            # the headroom: without cgroups the memory limit is approximate.
            data["data_mb"] = limits.memory_mb * 2 + 512
            data["nproc"] = limits.max_processes + parents
        return data


class Program:
    """A program prepared in a sandbox: its files are in place and it is compiled, once."""

    def __init__(self, box: Sandbox, language: str, source: str, *, files: dict[str, str] | None = None,
                 limits: Limits | None = None, deadline: float | None = None):
        self.box = box
        self.limits = limits or Limits()
        self.deadline = deadline
        self.source = source
        self.lang = find_language(language)
        self.compile_result: ExecResult | None = None
        self.unavailable: str | None = None
        self._generation = -1
        self._parents = _PARENT_TASKS
        self._files = dict(files or {})
        self._classes: dict[str, bytes] | None = None  # compiled by the warm javac: sent with the source
        self._held = False
        if self.lang is None:
            self.unavailable = f"unknown language {language!r}"
        else:
            self.unavailable = bad_file_names(self._files) or missing_toolchain(self.lang)
        if self.unavailable:
            self.compile_result = ExecResult.sandbox_error(self.unavailable)
            return
        box.lock.acquire()  # one program at a time per sandbox: the build directory is shared
        self._held = True
        try:
            self._prepare()
        except SandboxError as exc:
            self.compile_result = ExecResult.sandbox_error(f"sandbox failure: {exc}")

    def _prepare(self) -> None:
        assert self.lang is not None
        self.box.start()  # no-op when running
        files: dict[str, str | bytes] = {**self._files, self.lang.file_name(self.source): self.source}
        if self.lang.compile_cache == "javac" and self._classes is None and not self._files:
            self._compile_with_warm_javac()
        files.update(self._classes or {})
        message: dict[str, Any] = {"op": "prepare", "files": {k: _to_bytes(v) for k, v in files.items()}}
        if self.lang.warm_python:  # compiled once, by a parent that then forks every run of it
            message["python_source"] = _to_bytes(self.source)
            message["env"] = run_env(self.lang)
            self.box.apply_limits(self.limits.for_compile())
        reply = self.box._request(message, timeout_s=self.compile_limits().wall_time_s + _CONTROL_SLACK_S)
        self._generation = self.box.generation
        self._parents = _PARENT_TASKS - (reply.get("program_parent") is False)
        if reply.get("compile_error"):
            self.compile_result = ExecResult(status=ExecStatus.compile_error, stderr=reply["compile_error"],
                                             exit_code=1, message="the program does not parse")
        if self.lang.compile is None or self._classes is not None:
            return
        limits = self.compile_limits()
        argv = [arg.format(**{"class": self.lang.file_name(self.source)[:-5]}) if "{class}" in arg else arg
                for arg in self.lang.compile]
        if self.lang.compile_cache:  # read-only caches built by the service, never by a program
            argv[1:1] = pch.compile_flags(self.lang.compile_cache, self.source, self.box.pch_bound)
        job = {"kind": "exec", "argv": argv, "env": run_env(self.lang), "stdin": "",
               "limits": self.box.job_limits(limits), "build_rw": True}
        raw, oom = self.box._run_job(job, limits)
        result = classify(raw, self.lang, limits, oom)
        if result.status is not ExecStatus.ok:
            reason = result.message or (f"compiler exited with {result.exit_code}" if result.exit_code is not None
                                        else result.status.value)
            result = result.model_copy(update={"status": ExecStatus.compile_error, "message": reason})
        self.compile_result = result

    def _compile_with_warm_javac(self) -> None:
        """Compile with the service's warm javac (sandbox/warm_javac.py): sets `compile_result` and
        `_classes` (the class files, placed in /prog as `javac -d .` would), or leaves `_classes`
        None where the warm server cannot decide exactly as javac in the sandbox would."""
        assert self.lang is not None
        try:
            source = self.source.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes: javac's own "unmappable character" errors
            return
        limits = self.compile_limits()
        compiled = self.box.warm_javac.compile({self.lang.file_name(self.source): source}, limits.wall_time_s)
        if compiled is None or bad_file_names(compiled.classes):  # paths javac -d . would write otherwise
            return
        _, stderr, cut = _decode_output(b"", compiled.diagnostics, limits.output_bytes)
        fields: dict[str, Any] = dict(stderr=stderr, truncated=cut, wall_ms=compiled.wall_ms, cpu_ms=compiled.cpu_ms)
        self._classes = compiled.classes if compiled.ok else {}
        if compiled.timed_out:
            self.compile_result = ExecResult(status=ExecStatus.compile_error, signal=signal.SIGKILL,
                                             message=f"wall clock limit {limits.wall_time_s:g} s", **fields)
        elif compiled.cpu_ms > limits.cpu_time_s * 1000:
            self._classes = {}
            self.compile_result = ExecResult(status=ExecStatus.compile_error, signal=signal.SIGKILL,
                                             message=f"CPU time limit {limits.cpu_time_s:g} s", **fields)
        elif cut:
            self._classes = {}
            self.compile_result = ExecResult(status=ExecStatus.compile_error, exit_code=int(not compiled.ok),
                                             message=f"output over {limits.output_bytes} bytes", **fields)
        elif compiled.ok:
            self.compile_result = ExecResult(status=ExecStatus.ok, exit_code=0, **fields)
        else:
            self.compile_result = ExecResult(status=ExecStatus.compile_error, exit_code=1,
                                             message="exit code 1", **fields)

    def compile_limits(self) -> Limits:
        """The compiler's limits: roomier than a run's, but never past the deadline."""
        return self.limits.for_compile().within(self._remaining_s())

    def remaining_limits(self) -> Limits:
        """The program's limits, cut to what is left before the deadline (after compiling)."""
        return self.limits.within(self._remaining_s())

    def _remaining_s(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def run(self, stdin: str = "", *, files: dict[str, str] | None = None, limits: Limits | None = None) -> ExecResult:
        """Run the program once on `stdin`, in a fresh working directory holding `files`."""
        return self.run_raw(stdin=stdin, files=files, limits=limits)[0]

    def run_raw(self, stdin: str = "", *, files: dict[str, str] | None = None, limits: Limits | None = None,
                harness: dict | None = None, test: dict | None = None) -> tuple[ExecResult, str]:
        """`run`, also returning what the harness wrote on its private channel. With harness mode
        `assert`, `test` goes to the trusted test process: for Python `script` and `entry_point`; for
        other languages the frame of sandbox/testcode.py's `trusted_test` (its `runner` and test code)."""
        if self.compile_result is not None and not self.compile_result.ok:
            return self.compile_result, ""
        assert self.lang is not None
        limits = limits or self.limits
        if files and (bad := bad_file_names(files)):
            return ExecResult.sandbox_error(bad), ""
        try:
            if self._generation != self.box.generation or not self.box.alive:
                self.box.start()
                self._prepare()
                if self.compile_result is not None and not self.compile_result.ok:
                    return self.compile_result, ""
            job: dict[str, Any] = {"stdin": _to_bytes(stdin), "limits": self.box.job_limits(limits, self._parents),
                                   "files": {k: _to_bytes(v) for k, v in (files or {}).items()},
                                   "env": run_env(self.lang)}
            if self.lang.warm_python:
                job.update(kind="python", harness=harness or {"mode": "script"})
            else:
                if harness and (harness.get("mode") != "assert" or not isinstance(test, dict) or "runner" not in test):
                    raise ValueError(f"{self.lang.name} programs take only assert tests with a runner")
                job.update(kind="exec", argv=self.lang.run_argv(self.source, limits.memory_mb))
                if harness:
                    job["harness"] = harness
            trusted_test = job.get("harness", {}).get("mode") == "assert"
            if trusted_test and not isinstance(test, dict):
                raise ValueError("an assert harness needs the test")
            raw, oom = self.box._run_job(job, limits, test if trusted_test else None, self._parents)
        except SandboxError as exc:
            return ExecResult.sandbox_error(f"sandbox failure: {exc}"), ""
        return classify(raw, self.lang, limits, oom), raw.get("channel", b"").decode("utf-8", "surrogateescape")

    def close(self) -> None:
        if self._held:
            self._held = False
            try:
                if self.box.alive and self._generation == self.box.generation:
                    self.box._request({"op": "wipe"})
            except SandboxError:
                pass
            finally:
                self.box.lock.release()

    def __enter__(self) -> Program:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


MAX_PATH_BYTES = 1024  # under the kernel's PATH_MAX once placed in the working directory
MAX_NAME_BYTES = 255  # NAME_MAX


def bad_file_names(files: dict[str, Any]) -> str | None:
    """Why these file names are refused (absolute, `..`, empty, NUL), or None if all are fine."""
    for name in files:
        parts = name.split("/")
        if not name or name.startswith("/") or "\0" in name or any(p in ("", ".", "..") for p in parts):
            return f"bad file name {name!r}: use a relative path without '.' or '..' parts"
        if len(name.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES or any(
                len(p.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for p in parts):
            return (f"file name {name[:64]!r}... is too long: at most {MAX_PATH_BYTES} bytes, "
                    f"{MAX_NAME_BYTES} per component")
    return None


def _to_bytes(text: str | bytes) -> bytes:
    """Payloads travel as raw bytes; programs see the UTF-8 of text (undecodable bytes kept)."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate outside the escape range, e.g. from JSON "\ud800"
        return text.encode("utf-8", "surrogatepass")


def _decode_output(out: bytes, err: bytes, cap: int) -> tuple[str, str, bool]:
    """stdout and stderr as text, together at most `cap` bytes of UTF-8 (an undecodable byte
    becomes U+FFFD, three bytes), so the cap also holds for the answer that carries them.
    Returns (stdout, stderr, whether text was cut)."""
    stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if (len(out) + len(err)) * 3 <= cap:
        return stdout, stderr, False
    out_utf8, err_utf8 = stdout.encode("utf-8", "surrogatepass"), stderr.encode("utf-8", "surrogatepass")
    if len(out_utf8) + len(err_utf8) <= cap:
        return stdout, stderr, False
    stdout = out_utf8[:cap].decode("utf-8", "ignore")
    stderr = err_utf8[:max(0, cap - len(stdout.encode("utf-8")))].decode("utf-8", "ignore")
    return stdout, stderr, True


def classify(raw: dict, lang: Language, limits: Limits, oom_killed: bool) -> ExecResult:
    """Turn the raw facts of a run into a status. Only facts the program cannot forge decide it."""
    stdout, stderr, cut = _decode_output(raw["stdout"], raw["stderr"], limits.output_bytes)
    fields: dict[str, Any] = dict(exit_code=raw["exit_code"], signal=raw["signal"], stdout=stdout, stderr=stderr,
                                  truncated=raw["truncated"] or cut, wall_ms=raw["wall_ms"], cpu_ms=raw["cpu_ms"])
    sig = raw["signal"]
    if raw.get("setup_error"):
        return ExecResult(status=ExecStatus.sandbox_error, message=f"run set-up failed: {raw['setup_error']}", **fields)
    if raw["timed_out"]:
        return ExecResult(status=ExecStatus.timeout, message=f"wall clock limit {limits.wall_time_s:g} s", **fields)
    if raw["output_limit"]:
        return ExecResult(status=ExecStatus.output_limit, message=f"output over {limits.output_bytes} bytes", **fields)
    if oom_killed:
        return ExecResult(status=ExecStatus.memory_limit, message=f"memory limit {limits.memory_mb} MiB", **fields)
    # RLIMIT_CPU kills with SIGKILL; rusage under-reports by up to a few scheduler ticks.
    if sig in (signal.SIGKILL, signal.SIGXCPU) and raw["cpu_ms"] >= limits.cpu_time_s * 1000 * 0.8:
        return ExecResult(status=ExecStatus.timeout, message=f"CPU time limit {limits.cpu_time_s:g} s", **fields)
    if raw["exit_code"] == 0 and sig is None:
        return ExecResult(status=ExecStatus.ok, **fields)
    if any(marker in stderr for marker in lang.memory_markers):
        return ExecResult(status=ExecStatus.memory_limit, message="the program ran out of memory", **fields)
    if sig is not None and sig == signal.SIGXFSZ:
        return ExecResult(status=ExecStatus.runtime_error, message="file size limit exceeded", **fields)
    message = f"killed by {ExecResult(status=ExecStatus.ok, signal=sig).signal_name}" if sig is not None \
        else f"exit code {raw['exit_code']}"
    return ExecResult(status=ExecStatus.runtime_error, message=message, **fields)


# -- cleanup at exit -------------------------------------------------------------------------------

_live: weakref.WeakSet[Sandbox] = weakref.WeakSet()
_exit_hooks_pid = 0


def _close_all() -> None:
    for box in list(_live):
        if box._owner_pid == os.getpid():
            box.close()


def _close_at_exit(box: Sandbox) -> None:
    """Stop `box` (and remove its cgroup) when this process exits normally, however it exits."""
    global _exit_hooks_pid
    _live.add(box)
    if _exit_hooks_pid != os.getpid():
        _exit_hooks_pid = os.getpid()
        atexit.register(_close_all)
        # multiprocessing children leave through os._exit: atexit never runs there, this does.
        multiprocessing.util.Finalize(None, _close_all, exitpriority=10)


# -- one warm sandbox per process -----------------------------------------------------------------

_shared: dict[int, Sandbox] = {}


def shared_sandbox() -> Sandbox:
    """This process's own warm sandbox, started on first use (a forked child starts its own)."""
    pid = os.getpid()
    with _shared_lock:
        box = _shared.get(pid)
        if box is None:
            for other in list(_shared):  # inherited from a parent process: not ours to use
                _shared.pop(other).close()
            box = _shared[pid] = Sandbox()
    return box
