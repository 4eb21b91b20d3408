"""Compiler caches built once by the service and shared read-only by every build: precompiled C++
headers, a class-data archive of javac, the runtime object of the C++ bridge
(sandbox/cpp_bridge.py) and the Rust bridge as a compiled crate (sandbox/rust_bridge.py), all
from fixed input in this package.

Parsing `<vector>`, `<string>`, `<algorithm>` ... is about half of a HumanEval-X item's `g++ -O2`
time, and `<bits/stdc++.h>` is most of a competitive program's. The service (trusted, outside
every sandbox) builds a few precompiled headers from fixed header lists written here, never from
program text, into a host directory that the sandbox sees read-only at `/pch`. A build uses one
only when the program's own leading lines include every header of it (see `pch_flags`), so the
translation unit declares exactly what it did without it: standard headers may be included in
any order, and nothing but includes, comments and `using namespace std;` may come before them.
A missing or stale precompiled header is only slower: g++ then reads the text header (same
headers), and says so on stderr (`-Winvalid-pch`).

javac spends most of a small compile loading and verifying its own classes: a dynamic class-data
sharing archive of the JDK's classes that javac uses (dumped from compiling a fixed source written
here) maps them ready-made. The JVM validates the archive against the JDK it runs and ignores one
that does not match; the classes it holds are the JDK's own, so the output is the same.

The warm javac's server (sandbox/java/RefereeJavacServer.java, run by sandbox/warm_javac.py) is
compiled here too, from that fixed source, into a directory of class files.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Callable

from sandbox.languages import CXX_FLAGS, JAVAC_JVM_FLAGS, RUSTC_TEST_FLAGS

log = logging.getLogger(__name__)

SANDBOX_DIR = "/pch"  # where the sandbox sees the directory, read-only
JAVAC = "/usr/bin/javac"
JAVAC_ARCHIVE = "javac"  # the archive's name, next to the headers
JAVAC_SERVER = "javac-server"  # the warm javac's class directory, next to them
JAVAC_SERVER_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "java", "RefereeJavacServer.java")
BRIDGE_RUNTIME = "bridge"  # the C++ bridge's runtime object, next to them
BRIDGE_SOURCE = Path(__file__).with_name("bridge") / "bridge_runtime.cpp"
RUST_BRIDGE = "rust-bridge"  # the Rust bridge's crate (an rlib), next to them
RUST_BRIDGE_SOURCE = Path(__file__).with_name("bridge") / "bridge.rs"
RUST_BRIDGE_CRATE = "referee_bridge_lib"  # its crate name: `referee_bridge_lib::referee_bridge`
RUSTC = "/usr/bin/rustc"  # the compiler of the Rust entries in sandbox/languages.py
_JAVA_SAMPLE = """import java.util.*;
import java.util.function.*;
import java.util.stream.*;

class Solution {
    public List<Integer> sorted(List<Integer> values) {
        List<Integer> out = new ArrayList<>(values);
        Collections.sort(out);
        Map<Integer, String> names = new HashMap<>();
        for (int v : out) names.put(v, String.valueOf(v));
        return out.stream().map(x -> x * 2).collect(Collectors.toList());
    }
}

public class Main {
    public static void main(String[] args) {
        List<Boolean> correct = Arrays.asList(new Solution().sorted(Arrays.asList(3, 1, 2)).equals(Arrays.asList(2, 4, 6)));
        if (correct.contains(false)) {
            throw new AssertionError();
        }
    }
}
"""
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


def _leading_block(source: str) -> list[re.Match]:
    """The source's leading block: the lines before the first one that is not blank, a `//`
    comment, an angle include or `using namespace std;`."""
    block = []
    for line in source.splitlines():
        match = _LEADING_LINE.match(line)
        if match is None:
            break
        block.append(match)
    return block


def leading_includes(source: str) -> set[str]:
    """The `#include <...>` names of the source's leading block."""
    return {match.group(1) for match in _leading_block(source) if match.group(1)}


def after_leading_block(source: str, text: str) -> str:
    """`source` with `text` inserted right after its leading block: where a definition may go
    without changing which precompiled header the source can use (one defined before it would
    make g++ refuse the header)."""
    lines = source.splitlines(keepends=True)
    n = len(_leading_block(source))
    if n and not lines[n - 1].endswith("\n"):
        lines[n - 1] += "\n"
    return "".join(lines[:n]) + text + "".join(lines[n:])


def choose_variant(source: str) -> str | None:
    """The largest variant whose headers the program's leading block includes, or None."""
    names = leading_includes(source)
    fitting = [name for name, headers in VARIANTS.items() if set(headers) <= names]
    if "stdcxx" in fitting:  # the heaviest to parse by far
        return "stdcxx"
    return max(fitting, key=lambda name: len(VARIANTS[name]), default=None)


def _key(name: str) -> str:
    """Changes when the compiler, its flags or the header list change."""
    java = name in (JAVAC_ARCHIVE, JAVAC_SERVER)
    try:
        real = os.path.realpath(JAVAC if java else RUSTC if name == RUST_BRIDGE else GXX)
        info = os.stat(real)
        compiler = f"{real}:{info.st_size}:{info.st_mtime_ns}"
        if java:  # the JDK's class image
            modules = os.stat(os.path.join(os.path.dirname(os.path.dirname(real)), "lib", "modules"))
            compiler += f":{modules.st_size}:{modules.st_mtime_ns}"
    except OSError:
        compiler = "missing"
    if name == JAVAC_SERVER:
        parts: tuple[str, ...] = (_server_source(),)
    elif name == RUST_BRIDGE:
        parts = (*RUSTC_TEST_FLAGS, RUST_BRIDGE_SOURCE.read_text(encoding="utf-8"))
    elif java:
        parts = (*JAVAC_JVM_FLAGS, _JAVA_SAMPLE)
    elif name == BRIDGE_RUNTIME:  # the object changes with its source and its header
        parts = (*CXX_FLAGS, *(path.read_text(encoding="utf-8") for path in sorted(BRIDGE_SOURCE.parent.iterdir())
                                 if path.suffix in (".cpp", ".hpp")))
    else:
        parts = (*CXX_FLAGS, *VARIANTS[name])
    text = "\n".join((compiler, *parts))
    return f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def host_dir() -> str:
    """The host directory bound read-only at /pch: created by this uid, writable by nobody else."""
    global _dir
    with _lock:
        if _dir is not None and os.path.isdir(_dir):  # a temp cleaner may have removed it
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


def bound_identity() -> tuple[int, int]:
    """What a sandbox about to start binds at /pch (compared before use: see `_usable`)."""
    info = os.stat(host_dir())
    return info.st_dev, info.st_ino


def _usable(bound: tuple[int, int] | None) -> bool:
    """Is the directory at the host path still the one this sandbox bound (not removed and made anew)?"""
    try:
        info = os.stat(host_dir())
    except OSError:
        return False
    return bound is not None and (info.st_dev, info.st_ino) == bound


def pch_flags(source: str, bound: tuple[int, int] | None = None) -> list[str]:
    """Extra g++ flags for this program in a sandbox that bound `bound` at /pch: a ready precompiled
    header it may use, else none. A missing one is built in the background for the next program."""
    name = choose_variant(source)
    if name is None or not os.access(GXX, os.X_OK) or not _usable(bound):
        return []
    key = _key(name)
    directory = host_dir()
    if os.path.exists(os.path.join(directory, f"{key}.h.gch")):
        return ["-include", f"{SANDBOX_DIR}/{key}.h", "-Winvalid-pch"]
    start_build(name)
    return []


def javac_flags(bound: tuple[int, int] | None = None) -> list[str]:
    """Extra javac flags: the class-data archive when it is ready (else it is built for the next program)."""
    if not _usable(bound):
        return []
    archive = javac_archive()
    return [f"-J-XX:SharedArchiveFile={SANDBOX_DIR}/{os.path.basename(archive)}"] if archive else []


def javac_archive() -> str | None:
    """The host path of javac's class-data archive when it is ready (else it is built in the
    background, and None). The warm javac's JVM maps it too: it loads the same classes."""
    if not os.access(JAVAC, os.X_OK):
        return None
    path = os.path.join(host_dir(), f"{_key(JAVAC_ARCHIVE)}.jsa")
    if os.path.exists(path):
        return path
    start_build(JAVAC_ARCHIVE)
    return None


def javac_server_dir() -> str | None:
    """The host directory of the warm javac's compiled server when it is ready (else it is built
    in the background, and None)."""
    if not os.access(JAVAC, os.X_OK):
        return None
    path = os.path.join(host_dir(), _key(JAVAC_SERVER))
    if os.path.isdir(path):
        return path
    start_build(JAVAC_SERVER)
    return None


def _server_source() -> str:
    try:
        with open(JAVAC_SERVER_SOURCE, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return "missing"


def bridge_object(bound: tuple[int, int] | None = None) -> str | None:
    """The C++ bridge's runtime object (sandbox/bridge/, see sandbox/cpp_bridge.py) as the sandbox
    sees it, built now if missing (a program cannot link without it); None if it cannot be built."""
    return _built_now(GXX, f"{_key(BRIDGE_RUNTIME)}.o", _build_bridge_object, bound)


def rust_bridge_crate(bound: tuple[int, int] | None = None) -> str | None:
    """The Rust bridge (sandbox/bridge/bridge.rs) compiled as a crate, as the sandbox sees it, built
    now if missing (~0.3 s of CPU, once per host: checking and compiling the bridge's module was
    most of each build that held it); None if it cannot be built."""
    return _built_now(RUSTC, f"lib{_key(RUST_BRIDGE)}.rlib", _build_rust_bridge, bound)


def _built_now(tool: str, target: str, build: Callable[[str], bool], bound: tuple[int, int] | None) -> str | None:
    """`target` in the host directory as a sandbox that bound `bound` sees it, `build(target)` first
    if it is missing; None without `tool`, in a sandbox bound to another directory, or on failure."""
    if not os.access(tool, os.X_OK) or not _usable(bound):
        return None
    if os.path.exists(os.path.join(host_dir(), target)) or build(target):
        return f"{SANDBOX_DIR}/{target}"
    return None


def compile_flags(cache: str, source: str, bound: tuple[int, int] | None) -> list[str]:
    """Extra compiler flags for a language's `compile_cache` (`pch`, `pch+bridge`, `rust-bridge` or
    `javac`), in a sandbox that bound `bound` (`bound_identity()` at its start) at /pch."""
    if cache == RUST_BRIDGE:
        crate = rust_bridge_crate(bound)
        return ["--extern", f"{RUST_BRIDGE_CRATE}={crate}"] if crate else []
    if cache == "pch":
        return pch_flags(source, bound)
    if cache == "pch+bridge":
        obj = bridge_object(bound)
        return [*pch_flags(source, bound), *([obj] if obj else [])]
    if cache == "javac":
        return javac_flags(bound)
    return []


def start_build(name: str) -> None:
    """Build variant `name` on a background thread, once per process (and once per host: a lock)."""
    with _lock:
        if name in _building:
            return
        _building.add(name)
    def run() -> None:
        if build(name):  # built: if it is ever removed, build it again; a failure is not retried
            with _lock:
                _building.discard(name)

    threading.Thread(target=run, name=f"pch-{name}", daemon=True).start()


def build(name: str) -> bool:
    """Build variant `name` (or the javac archive, or the warm javac's server) now, on the trusted
    side from fixed input; True when ready."""
    if name == JAVAC_ARCHIVE:
        return _build_javac_archive()
    if name == JAVAC_SERVER:
        return _build_javac_server()
    key = _key(name)
    header = os.path.join(host_dir(), f"{key}.h")

    def command(tmp: str, work: str) -> list[str]:
        text = "".join(f"#include <{h}>\n" for h in VARIANTS[name])
        tmp_h = f"{header}.{os.getpid()}.tmp"
        with open(tmp_h, "w") as fh:
            fh.write(text)
        os.chmod(tmp_h, 0o644)
        os.replace(tmp_h, header)
        return [GXX, *CXX_FLAGS, "-x", "c++-header", "-o", tmp, header]

    return _build_once(f"{key}.h.gch", f"precompiled header {name}", command)


def _build_once(target: str, what: str, command: Callable[[str, str], list[str]], *,
                files: dict[str, str] | None = None, directory: bool = False) -> bool:
    """Build `target` in the host directory, once per host: under the directory's lock (another
    process may be building it: wait, then reuse), into a temporary name renamed whole when done,
    so it appears whole or not at all. `command(tmp, work)` is the argv that writes `tmp` (a file,
    or with `directory` a directory made for it), run in a fresh `work` directory holding `files`."""
    host = host_dir()
    path = os.path.join(host, target)
    with open(os.path.join(host, ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if os.path.exists(path):
                return True
            _remove_leftovers(host)
            tmp = f"{path}.{os.getpid()}.tmp"
            if directory:
                os.mkdir(tmp, 0o755)
            with tempfile.TemporaryDirectory(prefix="referee-build-") as work:
                for name, text in (files or {}).items():
                    with open(os.path.join(work, name), "w", encoding="utf-8") as fh:
                        fh.write(text)
                proc = subprocess.run(command(tmp, work), capture_output=True, text=True, cwd=work,
                                      stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "LANG": "C", "TMPDIR": work},
                                      timeout=300)
            if proc.returncode != 0 or not os.path.exists(tmp):
                log.warning("%s failed to build: %s", what, proc.stderr[-2000:])
                _remove_leftovers(host)
                return False
            for name in os.listdir(tmp) if directory else ():
                os.chmod(os.path.join(tmp, name), 0o644)
            os.chmod(tmp, 0o755 if directory else 0o644)  # the warm javac's server runs as another uid
            os.replace(tmp, path)
            return True
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("%s failed to build: %s", what, exc)
            return False
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_leftovers(directory: str) -> None:
    """Under the lock no build is running: a `.tmp` file or directory is from a process that died mid-build."""
    for name in os.listdir(directory):
        if name.endswith(".tmp"):
            path = os.path.join(directory, name)
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            except OSError:
                pass


def _build_bridge_object(target: str) -> bool:
    return _build_once(target, "the C++ bridge's runtime",
                       lambda tmp, work: [GXX, *CXX_FLAGS, "-c", "-o", tmp, str(BRIDGE_SOURCE)])


def _build_rust_bridge(target: str) -> bool:
    source = RUST_BRIDGE_SOURCE.read_text(encoding="utf-8").replace("\nmod referee_bridge {", "\npub mod referee_bridge {", 1)
    return _build_once(target, "the Rust bridge",
                       lambda tmp, work: [RUSTC, *RUSTC_TEST_FLAGS, "--crate-type", "rlib",
                                          "--crate-name", RUST_BRIDGE_CRATE, "-o", tmp, "lib.rs"],
                       files={"lib.rs": source})


def _build_javac_archive() -> bool:
    return _build_once(f"{_key(JAVAC_ARCHIVE)}.jsa", "javac's class archive",
                       lambda tmp, work: [JAVAC, *JAVAC_JVM_FLAGS, f"-J-XX:ArchiveClassesAtExit={tmp}",
                                          "-encoding", "UTF-8", "-d", work, "Main.java"],
                       files={"Main.java": _JAVA_SAMPLE})


def _build_javac_server() -> bool:
    return _build_once(_key(JAVAC_SERVER), "the warm javac's server",
                       lambda tmp, work: [JAVAC, *JAVAC_JVM_FLAGS, "-proc:none", "-encoding", "UTF-8", "-d", tmp,
                                          JAVAC_SERVER_SOURCE], directory=True)
