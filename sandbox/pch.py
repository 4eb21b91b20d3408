"""Precompiled C++ headers: the usual standard headers parsed once, shared read-only by every build.

Parsing `<vector>`, `<string>`, `<algorithm>` ... is about half of a HumanEval-X item's `g++ -O2`
time, and `<bits/stdc++.h>` is most of a competitive program's. The service (trusted, outside
every sandbox) builds a few precompiled headers from fixed header lists written here, never from
program text, into a host directory that the sandbox sees read-only at `/pch`. A build uses one
only when the program's own leading lines include every header of it (see `pch_flags`), so the
translation unit declares exactly what it did without it: standard headers may be included in
any order, and nothing but includes, comments and `using namespace std;` may come before them.
A missing or stale precompiled header is only slower: g++ then reads the text header (same
headers), and says so on stderr (`-Winvalid-pch`).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import stat
import subprocess
import tempfile
import threading

from sandbox.languages import CXX_FLAGS

log = logging.getLogger(__name__)

SANDBOX_DIR = "/pch"  # where the sandbox sees the directory, read-only
GXX = "/usr/bin/g++"  # the compiler of the C++ entries in sandbox/languages.py, built with CXX_FLAGS

# name -> headers. The HumanEval-X declaration block, its common core, and competitive programming's.
# <assert.h>/<cassert> are never in a list: they depend on NDEBUG where they are included.
VARIANTS: dict[str, tuple[str, ...]] = {
    "stdcxx": ("bits/stdc++.h",),
    "humaneval": ("stdio.h", "math.h", "vector", "string", "algorithm", "stdlib.h"),
    "core": ("vector", "string", "algorithm"),
    "iostream": ("iostream", "vector", "string", "algorithm"),
}

_LEADING_LINE = re.compile(r"\s*(?:$|//.*$|#\s*include\s*<([\w./+-]+)>\s*(?://.*)?$|using\s+namespace\s+std\s*;\s*$)")
_lock = threading.Lock()
_dir: str | None = None
_building: set[str] = set()


def leading_includes(source: str) -> set[str]:
    """The `#include <...>` names of the source's leading block: the lines before the first one
    that is not blank, a `//` comment, an angle include or `using namespace std;`."""
    names: set[str] = set()
    for line in source.splitlines():
        match = _LEADING_LINE.match(line)
        if match is None:
            break
        if match.group(1):
            names.add(match.group(1))
    return names


def choose_variant(source: str) -> str | None:
    """The largest variant whose headers the program's leading block includes, or None."""
    names = leading_includes(source)
    fitting = [name for name, headers in VARIANTS.items() if set(headers) <= names]
    if "stdcxx" in fitting:  # the heaviest to parse by far
        return "stdcxx"
    return max(fitting, key=lambda name: len(VARIANTS[name]), default=None)


def _key(name: str) -> str:
    """Changes when the compiler, its flags or the header list change."""
    try:
        real = os.path.realpath(GXX)
        info = os.stat(real)
        compiler = f"{real}:{info.st_size}:{info.st_mtime_ns}"
    except OSError:
        compiler = "missing"
    text = "\n".join((compiler, *CXX_FLAGS, *VARIANTS[name]))
    return f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def host_dir() -> str:
    """The host directory bound read-only at /pch: created by this uid, writable by nobody else."""
    global _dir
    with _lock:
        if _dir is not None:
            return _dir
        path = os.environ.get("REFEREE_SANDBOX_PCH_DIR") or os.path.join(
            tempfile.gettempdir(), f"referee-pch-{os.geteuid()}")
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            pass
        except OSError:
            path = ""
        if path:
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
                path = ""  # someone else's, or writable by others: never trust it
        if not path:
            path = tempfile.mkdtemp(prefix="referee-pch-")
        os.chmod(path, 0o755)  # the sandbox may run as another unprivileged host uid
        _dir = path
        return path


def pch_flags(source: str) -> list[str]:
    """Extra g++ flags for this program: a ready precompiled header it may use, else none.
    A missing one is built in the background for the next program."""
    name = choose_variant(source)
    if name is None or not os.access(GXX, os.X_OK):
        return []
    key = _key(name)
    directory = host_dir()
    if os.path.exists(os.path.join(directory, f"{key}.h.gch")):
        return ["-include", f"{SANDBOX_DIR}/{key}.h", "-Winvalid-pch"]
    start_build(name)
    return []


def start_build(name: str) -> None:
    """Build variant `name` on a background thread, once per process (and once per host: a lock)."""
    with _lock:
        if name in _building:
            return
        _building.add(name)
    threading.Thread(target=build, args=(name,), name=f"pch-{name}", daemon=True).start()


def build(name: str) -> bool:
    """Build variant `name` now (the trusted side, from the fixed header list); True when it is ready."""
    key = _key(name)
    directory = host_dir()
    header, gch = os.path.join(directory, f"{key}.h"), os.path.join(directory, f"{key}.h.gch")
    with open(os.path.join(directory, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building it: wait, then reuse
        try:
            if os.path.exists(gch):
                return True
            text = "".join(f"#include <{h}>\n" for h in VARIANTS[name])
            tmp_h = f"{header}.{os.getpid()}.tmp"
            with open(tmp_h, "w") as fh:
                fh.write(text)
            os.chmod(tmp_h, 0o644)
            os.replace(tmp_h, header)
            tmp_gch = f"{gch}.{os.getpid()}.tmp"
            proc = subprocess.run([GXX, *CXX_FLAGS, "-x", "c++-header", "-o", tmp_gch, header],
                                  capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "LANG": "C"},
                                  stdin=subprocess.DEVNULL, timeout=300)
            if proc.returncode != 0:
                log.warning("precompiled header %s failed to build: %s", name, proc.stderr[-2000:])
                try:
                    os.unlink(tmp_gch)
                except OSError:
                    pass
                return False
            os.chmod(tmp_gch, 0o644)
            os.replace(tmp_gch, gch)  # appears whole, or not at all
            return True
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("precompiled header %s failed to build: %s", name, exc)
            return False
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
