"""Backends that start the warm parent (`sandbox/zygote.py`) inside an isolated environment.

A launcher turns "start this Python source with a control channel on fd 3" into a command line
plus the file descriptors the command needs. Everything after that (the per-run namespaces,
mounts, limits) is done by the warm parent itself, identically for every launcher.
"""

from __future__ import annotations

import concurrent.futures
import glob
import os
import queue
import shutil
import signal
import subprocess
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable

from sandbox.languages import SANDBOX_PATH, SANDBOX_PYTHON
from sandbox.pch import SANDBOX_DIR as PCH_DIR, host_dir as pch_host_dir
from sandbox.seccomp import filter_program


SANDBOX_UID = 1000  # the uid programs see inside the sandbox
HOST_UID_BASE = 200_000  # when the service runs as root, sandboxes run as an unprivileged host uid
TOOL_UID_OFFSET = 100_000  # the service's own tools in a sandbox (the warm javac) get another one
PASSWD = "root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000:sandbox:/work:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n"
GROUP = "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n"


@dataclass
class LaunchSpec:
    argv: list[str]
    pass_fds: list[int] = field(default_factory=list)
    close_after_start: list[int] = field(default_factory=list)  # our copies of fds handed to the child


class Launcher(ABC):
    """Starts the warm parent in isolation."""

    name: str

    @abstractmethod
    def unavailable_reason(self) -> str | None:
        """None when this launcher can work on this host, else why not."""

    @abstractmethod
    def spec(self, python_source: str, control_fd: int) -> LaunchSpec:
        """The command that runs `python3 -I -c python_source <control_fd>` in the sandbox."""


def _data_fd(data: str | bytes) -> int:
    """A pipe read end holding `data` (small: fits in the pipe buffer)."""
    r, w = os.pipe()
    os.write(w, data.encode() if isinstance(data, str) else data)
    os.close(w)
    return r


def host_uid() -> int | None:
    """The unprivileged host uid to drop to, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    return HOST_UID_BASE + os.getpid() % 100_000


class BubblewrapLauncher(Launcher):
    """bubblewrap (`bwrap`), run unprivileged: user + mount + PID + net + IPC + UTS + cgroup namespaces."""

    name = "bubblewrap"

    def __init__(self, bwrap: str | None = None, drop_root: bool = True):
        self.bwrap = bwrap or shutil.which("bwrap") or "/usr/bin/bwrap"
        # Run bwrap as an unprivileged host uid when we are root. Hosts that forbid unprivileged
        # user namespaces (e.g. an AppArmor policy) need drop_root=False: the sandbox uid then
        # maps to host root, still without capabilities and seeing only read-only system files.
        self.drop_root = drop_root

    def unavailable_reason(self) -> str | None:
        if not os.access(self.bwrap, os.X_OK):
            return "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        if os.geteuid() == 0 and not shutil.which("setpriv"):
            return "setpriv is needed to drop root before starting bwrap (Debian/Ubuntu: apt-get install util-linux)"
        return None

    def spec(self, python_source: str, control_fd: int) -> LaunchSpec:
        fds: list[int] = []
        args = [self.bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
                "--cap-add", "ALL",  # kept inside the user namespace only; every run drops them all
                "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
        args += _system_files(fds)
        # Precompiled headers built by the service (sandbox/pch.py): read-only for every run.
        args += ["--ro-bind", pch_host_dir(), PCH_DIR]
        args += _devices_and_seccomp(fds)
        args += ["--dir", "/dev/shm", "--remount-ro", "/dev", "--size", str(16 << 20), "--tmpfs", "/tmp",
                 "--dir", "/work", "--dir", "/prog", "--dir", "/build",  # the warm parent mounts /build
                 "--chdir", "/", "--remount-ro", "/",
                 "--", SANDBOX_PYTHON, "-I", "-c", python_source, str(control_fd)]
        return LaunchSpec(argv=self._drop_root(host_uid()) + args, pass_fds=[control_fd, *fds], close_after_start=fds)

    def tool_spec(self, argv: list[str], ro_binds: dict[str, str]) -> LaunchSpec:
        """A trusted tool of the service (the warm javac, sandbox/warm_javac.py) in a bubblewrap of
        its own, apart from every program's: all namespaces new (no network at all), no
        capabilities, the seccomp filter, nothing writable, and a host uid of its own when we are
        root. `ro_binds`: host path -> sandbox path, read-only. It talks over stdin and stdout only."""
        fds: list[int] = []
        args = [self.bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
                "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv",
                "--setenv", "LANG", "C.UTF-8", "--setenv", "PATH", SANDBOX_PATH]
        args += _system_files(fds)
        for host, inside in ro_binds.items():
            args += ["--ro-bind", host, inside]
        args += _devices_and_seccomp(fds)
        args += ["--remount-ro", "/dev", "--chdir", "/", "--remount-ro", "/", "--", *argv]
        uid = host_uid()
        return LaunchSpec(argv=self._drop_root(None if uid is None else uid + TOOL_UID_OFFSET) + args,
                          pass_fds=fds, close_after_start=fds)

    def _drop_root(self, uid: int | None) -> list[str]:
        """The prefix that starts bwrap as host uid `uid` (None: as we are)."""
        if uid is None or not self.drop_root:
            return []
        return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def _system_files(fds: list[int]) -> list[str]:
    """bwrap arguments: the system directories and the few /etc files toolchains need, read-only,
    and generated passwd/group/hosts (their data descriptors are appended to `fds`)."""
    args: list[str] = []
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{top}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--ro-bind", "/usr", "/usr"]
    etc = ["/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
           *sorted(glob.glob("/etc/java-*"))]
    for path in etc:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for name, text in (("passwd", PASSWD), ("group", GROUP), ("hostname", "sandbox\n"),
                       ("hosts", "127.0.0.1 localhost sandbox\n")):
        fd = _data_fd(text)
        fds.append(fd)
        args += ["--ro-bind-data", str(fd), f"/etc/{name}"]
    return args


def _devices_and_seccomp(fds: list[int]) -> list[str]:
    """bwrap arguments: the seccomp filter (its descriptor appended to `fds`), /proc, and a /dev
    with only null, zero, full, random, urandom and the stdio links."""
    args: list[str] = []
    program = filter_program()
    if program is not None:
        fd = _data_fd(program)
        fds.append(fd)
        args += ["--seccomp", str(fd)]
    args += ["--proc", "/proc", "--tmpfs", "/dev"]
    for dev in ("null", "zero", "full", "random", "urandom"):
        args += ["--dev-bind", f"/dev/{dev}", f"/dev/{dev}"]
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        args += ["--symlink", target, f"/dev/{name}"]
    return args


_spawner_lock = threading.Lock()
_spawner: queue.SimpleQueue | None = None
_spawner_pid = 0


def spawn_from_a_lasting_thread(spawn: Callable[[], subprocess.Popen]) -> subprocess.Popen:
    """Run `spawn` on a thread that lives as long as the process.

    bubblewrap's --die-with-parent fires when the *thread* that started it exits; a sandbox
    started from a short-lived worker thread (a web server's thread pool) would die with it.
    """
    global _spawner, _spawner_pid
    if threading.current_thread() is threading.main_thread():
        return spawn()
    with _spawner_lock:
        if _spawner is None or _spawner_pid != os.getpid():
            _spawner, _spawner_pid = queue.SimpleQueue(), os.getpid()
            jobs = _spawner

            def serve() -> None:
                while True:
                    job, done = jobs.get()
                    try:
                        done.set_result(job())
                    except BaseException as exc:
                        done.set_exception(exc)

            threading.Thread(target=serve, name="sandbox-spawner", daemon=True).start()
    done: concurrent.futures.Future = concurrent.futures.Future()
    _spawner.put((spawn, done))
    return done.result()


LAUNCHERS: dict[str, type[Launcher]] = {"bubblewrap": BubblewrapLauncher}


def default_launcher() -> Launcher:
    """The configured launcher (`REFEREE_SANDBOX_BACKEND`), else the first available one."""
    wanted = os.environ.get("REFEREE_SANDBOX_BACKEND")
    if wanted:
        return LAUNCHERS[wanted]()
    for cls in LAUNCHERS.values():
        launcher = cls()
        if launcher.unavailable_reason() is None:
            return launcher
    return BubblewrapLauncher()


def stop_launched(proc: subprocess.Popen) -> None:
    """Kill everything a launcher started (bubblewrap's --new-session gives it its own process
    group), wait for it briefly, and close our ends of its pipes."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
