"""Memory and process-count limits through cgroups, v1 or v2, detected at start.

Each warm sandbox gets its own cgroup (memory + pids) under the cgroup this service runs in.
It runs one program at a time, so the cgroup's limits are that run's limits. When neither
hierarchy is writable, `detect()` returns None and the sandbox falls back to rlimits.
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import time
from dataclasses import dataclass

_counter = itertools.count()


def _own_cgroups() -> dict[str, str]:
    """controller (or "" for the unified v2 hierarchy) -> this process's cgroup path."""
    paths: dict[str, str] = {}
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, fs type, super options) of every cgroup filesystem."""
    found = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, right = line.split(" - ", 1)
            fstype, _, super_opts = right.split()[:3]
            if fstype in ("cgroup", "cgroup2"):
                found.append((left.split()[4], fstype, super_opts))
    return found


def _writable_dir(parent: str) -> bool:
    probe = os.path.join(parent, f"referee-probe-{os.getpid()}")
    try:
        os.mkdir(probe)
        os.rmdir(probe)
        return True
    except OSError:
        return False


_PREFIX = "referee-sandbox-"


def _remove_stale(parent: str) -> None:
    """Remove empty cgroups left by sandbox owners that were killed (their pid is gone)."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith(_PREFIX)]
    except OSError:
        return
    for name in names:
        owner = name[len(_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
            try:
                os.rmdir(os.path.join(parent, name))  # fails (harmlessly) while processes remain
            except OSError:
                pass


@dataclass(frozen=True)
class CgroupHierarchy:
    version: int  # 1 or 2
    memory_parent: str  # directory under which a memory cgroup is created
    pids_parent: str

    def create(self) -> SandboxCgroup:
        _remove_stale(self.memory_parent)
        if self.pids_parent != self.memory_parent:
            _remove_stale(self.pids_parent)
        name = f"{_PREFIX}{os.getpid()}-{next(_counter)}"
        dirs = list(dict.fromkeys([os.path.join(self.memory_parent, name), os.path.join(self.pids_parent, name)]))
        for path in dirs:
            os.mkdir(path)
        group = SandboxCgroup(self.version, dirs[0], dirs[-1])
        group.init()
        return group


class SandboxCgroup:
    """The cgroup(s) of one warm sandbox."""

    def __init__(self, version: int, memory_dir: str, pids_dir: str):
        self.version = version
        self.memory_dir = memory_dir
        self.pids_dir = pids_dir
        self._limits: tuple[int, int] | None = None

    @property
    def dirs(self) -> list[str]:
        return list(dict.fromkeys([self.memory_dir, self.pids_dir]))

    @property
    def procs_files(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self.dirs]

    def _write(self, directory: str, name: str, value: str) -> bool:
        try:
            with open(os.path.join(directory, name), "w") as fh:
                fh.write(value)
            return True
        except OSError:
            return False

    def init(self) -> None:
        if self.version == 1:
            self._write(self.memory_dir, "memory.swappiness", "0")
            self._write(self.memory_dir, "memory.oom_control", "0")  # OOM killer on: kill, do not hang
        else:
            self._write(self.memory_dir, "memory.swap.max", "0")

    def set_limits(self, memory_bytes: int, pids: int) -> None:
        if self._limits == (memory_bytes, pids):
            return
        if self.version == 1:
            # memsw must stay >= the memory limit: order the writes so that holds in both directions.
            grow = self._limits is None or memory_bytes > self._limits[0]
            order = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
            for name in (reversed(order) if grow else order):
                self._write(self.memory_dir, name, str(memory_bytes))
            self._write(self.pids_dir, "pids.max", str(pids))
        else:
            self._write(self.memory_dir, "memory.max", str(memory_bytes))
            self._write(self.pids_dir, "pids.max", str(pids))
        self._limits = (memory_bytes, pids)

    def oom_kills(self) -> int:
        """How many processes the memory limit has killed so far."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            with open(os.path.join(self.memory_dir, name)) as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except OSError:
            pass
        return 0

    def usage_bytes(self) -> int:
        name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        try:
            with open(os.path.join(self.memory_dir, name)) as fh:
                return int(fh.read())
        except (OSError, ValueError):
            return 0

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.procs_files:
            try:
                with open(path) as fh:
                    found.update(int(x) for x in fh.read().split())
            except OSError:
                pass
        return sorted(found)

    def kill_all(self, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill_all()
        for path in self.dirs:
            for _ in range(50):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


@functools.lru_cache(maxsize=1)
def detect() -> CgroupHierarchy | None:
    """The writable cgroup hierarchy with memory and pids controllers, or None."""
    if os.environ.get("REFEREE_SANDBOX_CGROUPS", "auto") == "off":
        return None
    try:
        own = _own_cgroups()
        mounts = _mounts()
    except OSError:
        return None
    v1: dict[str, str] = {}
    for point, fstype, opts in mounts:
        if fstype != "cgroup":
            continue
        for controller in ("memory", "pids"):
            if controller in opts.split(",") and controller in own:
                v1[controller] = os.path.join(point, own[controller].lstrip("/"))
    if len(v1) == 2 and all(_writable_dir(p) for p in v1.values()):
        return CgroupHierarchy(1, v1["memory"], v1["pids"])
    for point, fstype, _ in mounts:
        if fstype != "cgroup2" or "" not in own:
            continue
        parent = os.path.join(point, own[""].lstrip("/"))
        try:
            with open(os.path.join(parent, "cgroup.subtree_control")) as fh:
                enabled = fh.read().split()
        except OSError:
            continue
        if {"memory", "pids"} <= set(enabled) and _writable_dir(parent):
            return CgroupHierarchy(2, parent, parent)
    return None
