"""The language table: how each language is compiled and run inside the sandbox.

Paths are as seen inside the sandbox, which exposes the host's /usr read-only and nothing
outside the system directories (a toolchain under a user's home, like rustup's, is not used).
The program's files are in /prog (read-only during tests); the working directory /work is a
fresh tmpfs for every run.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field

SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"


def _sandbox_python() -> str:
    """The interpreter that runs the warm parent and Python programs: it must live under /usr,
    the only place the sandbox sees (Debian's /usr/bin/python3, the python image's /usr/local)."""
    configured = os.environ.get("REFEREE_SANDBOX_PYTHON")
    if configured:
        return configured
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return "/usr/bin/python3"


SANDBOX_PYTHON = _sandbox_python()


@dataclass(frozen=True)
class Language:
    name: str
    aliases: tuple[str, ...]
    source_name: str  # file name of the program inside /prog; `{class}` for Java's public class
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None  # runs with /prog's content as a writable /work
    toolchain: tuple[str, ...] = ()  # executables that must exist (sandbox paths)
    warm_python: bool = False  # runs in-process on the warm interpreter instead of exec
    memory_markers: tuple[str, ...] = ()  # stderr text meaning "ran out of memory"
    compile_cache: str = ""  # `pch`, `pch+bridge`, `rust-bridge`, `javac`: caches built by the service (sandbox/pch.py)
    env: dict[str, str] = field(default_factory=dict)
    packages: tuple[str, ...] = ()  # the Debian packages that provide the toolchain

    def file_name(self, source: str) -> str:
        if "{class}" in self.source_name:
            return self.source_name.format(**{"class": java_class_name(source)})
        return self.source_name

    def run_argv(self, source: str, memory_mb: int) -> list[str]:
        """The run command; `{class}` is Java's public class, `{memory_mb}` the run's memory limit."""
        values = {"class": java_class_name(source), "memory_mb": memory_mb}
        return [arg.format(**values) if "{" in arg else arg for arg in self.run]


# Every C++ build, and the precompiled headers it uses (built with exactly these flags).
CXX_FLAGS = ("-O2", "-std=gnu++17", "-pipe")
# javac's own JVM, for every Java build and the class archive it uses.
JAVAC_JVM_FLAGS = ("-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-J-XX:-UsePerfData")


def java_class_name(source: str) -> str:
    match = re.search(r"public\s+(?:final\s+)?class\s+([A-Za-z_$][\w$]*)", source)
    return match.group(1) if match else "Main"


def _rustc_link_flags() -> tuple[str, ...]:
    """Link the standard library dynamically when the toolchain ships it as a shared object (Debian's
    rustc does, under /usr): most of a small program's build is linking a static libstd, and the
    dynamic one is the same code. rpath lets the program find it in the sandbox (which shows /usr)
    without an environment variable. One codegen unit: less CPU for a small crate, same code."""
    for libdir in sorted(glob.glob("/usr/lib/rustlib/*/lib")):
        if glob.glob(os.path.join(libdir, "libstd-*.so")):
            return ("-C", "prefer-dynamic", "-C", f"link-arg=-Wl,-rpath,{libdir}", "-C", "codegen-units=1")
    return ()


_RUSTC_LINK_FLAGS = _rustc_link_flags()
# Test code computes little: no optimisation (builds several times faster than -O), and still no
# overflow checks or debug assertions, so the semantics are those of a release (-O) build.
RUSTC_TEST_FLAGS = ("-C", "opt-level=0", "-C", "overflow-checks=off", "-C", "debug-assertions=off",
                     "--edition", "2021", *_RUSTC_LINK_FLAGS)

LANGUAGES: dict[str, Language] = {lang.name: lang for lang in (
    Language(
        name="python", aliases=("python", "py", "python3", "py3"), source_name="main.py",
        run=(SANDBOX_PYTHON, "-I", "/prog/main.py"), toolchain=(SANDBOX_PYTHON,),
        warm_python=True, memory_markers=("MemoryError",), packages=("python3",),
    ),
    Language(
        name="c", aliases=("c", "h"), source_name="main.c",
        compile=("/usr/bin/gcc", "-O2", "-std=gnu17", "-pipe", "-o", "main", "main.c", "-lm"),
        run=("/prog/main",), toolchain=("/usr/bin/gcc",), packages=("gcc",),
    ),
    Language(
        name="cpp", aliases=("cpp", "c++", "cxx", "cc", "hpp"), source_name="main.cpp",
        compile=("/usr/bin/g++", *CXX_FLAGS, "-o", "main", "main.cpp"),
        run=("/prog/main",), toolchain=("/usr/bin/g++",), memory_markers=("std::bad_alloc",),
        compile_cache="pch",
        packages=("g++",),
    ),
    Language(
        name="javascript", aliases=("javascript", "js", "node", "nodejs"), source_name="main.js",
        run=("/usr/bin/node", "/prog/main.js"), toolchain=("/usr/bin/node",),
        memory_markers=("JavaScript heap out of memory",), packages=("nodejs",),
    ),
    Language(
        name="java", aliases=("java",), source_name="{class}.java",
        compile=("/usr/bin/javac", *JAVAC_JVM_FLAGS,
                 "-encoding", "UTF-8", "-d", ".", "{class}.java"),
        # The JVM sizes its heap from the memory limit, not from the host's RAM.
        run=("/usr/bin/java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-Xss32m",
             "-XX:MaxRAM={memory_mb}m", "-XX:MaxRAMPercentage=75", "-cp", "/prog", "{class}"),
        toolchain=("/usr/bin/java", "/usr/bin/javac"), memory_markers=("java.lang.OutOfMemoryError",),
        compile_cache="javac",
        packages=("default-jdk-headless",),
    ),
    Language(
        name="rust", aliases=("rust", "rs"), source_name="main.rs",
        compile=("/usr/bin/rustc", "-O", "--edition", "2021", *_RUSTC_LINK_FLAGS, "-o", "main", "main.rs"),
        run=("/prog/main",), toolchain=("/usr/bin/rustc", "/usr/bin/cc"),
        memory_markers=("memory allocation of",), packages=("rustc", "gcc"),
    ),
    Language(
        name="bash", aliases=("bash", "sh", "shell"), source_name="main.sh",
        run=("/bin/bash", "/prog/main.sh"), toolchain=("/bin/bash",), packages=("bash",),
    ),
    # Program + reference test code (sandbox/testcode.py); not fence tags, never chosen by users.
    Language(
        name="c+tests", aliases=(), source_name="main.c",
        compile=("/usr/bin/gcc", "-O2", "-std=gnu17", "-pipe", "-Wl,--wrap=main", "-o", "main", "main.c", "-lm"),
        run=("/prog/main",), toolchain=("/usr/bin/gcc",),
    ),
    Language(
        name="cpp+tests", aliases=(), source_name="main.cpp",
        compile=("/usr/bin/g++", *CXX_FLAGS, "-Wl,--wrap=main", "-o", "main", "main.cpp"),
        run=("/prog/main",), toolchain=("/usr/bin/g++",), memory_markers=("std::bad_alloc",),
        compile_cache="pch",
    ),
    Language(  # the program side of C++ tests run apart from it (sandbox/cpp_bridge.py)
        name="cpp+bridge", aliases=(), source_name="main.cpp",
        compile=("/usr/bin/g++", *CXX_FLAGS, "-o", "main", "main.cpp"),
        run=("/prog/main",), toolchain=("/usr/bin/g++",), memory_markers=("std::bad_alloc",),
        compile_cache="pch+bridge",
    ),
    Language(
        name="rust+quick", aliases=(), source_name="main.rs",
        compile=("/usr/bin/rustc", *RUSTC_TEST_FLAGS, "-o", "main", "main.rs"),
        run=("/prog/main",), toolchain=("/usr/bin/rustc", "/usr/bin/cc"),
        memory_markers=("memory allocation of",),
    ),
    Language(  # the program side of Rust tests run apart from it (sandbox/rust_bridge.py)
        name="rust+bridge", aliases=(), source_name="main.rs",
        compile=("/usr/bin/rustc", *RUSTC_TEST_FLAGS, "-o", "main", "main.rs"),
        run=("/prog/main",), toolchain=("/usr/bin/rustc", "/usr/bin/cc"),
        memory_markers=("memory allocation of",), compile_cache="rust-bridge",
    ),
    Language(
        name="rust+tests", aliases=(), source_name="main.rs",
        compile=("/usr/bin/rustc", *RUSTC_TEST_FLAGS, "--test", "-o", "main", "main.rs"),
        run=("/prog/main", "--test-threads=1", "--nocapture"), toolchain=("/usr/bin/rustc", "/usr/bin/cc"),
        memory_markers=("memory allocation of",),
    ),
)}

_ALIASES = {alias: lang for lang in LANGUAGES.values() for alias in (lang.name, *lang.aliases)}


def find_language(name: str) -> Language | None:
    """The language for a name or a code-fence tag (`py`, `c++`, `js` ...), or None."""
    return _ALIASES.get(name.strip().lower())


def missing_toolchain(lang: Language) -> str | None:
    """Why `lang` cannot run here, or None when its toolchain is installed."""
    for tool in lang.toolchain:
        if not os.access(tool, os.X_OK):
            return (f"{lang.name} is not available on this host: {tool} is not installed "
                    f"(Debian/Ubuntu: apt-get install {' '.join(lang.packages)})")
    return None


def user_languages() -> list[Language]:
    """The languages a request may name (the `+tests` builds of sandbox/testcode.py are internal)."""
    return [lang for lang in LANGUAGES.values() if lang.aliases]


def available_languages() -> list[str]:
    return [name for name, lang in LANGUAGES.items() if "+" not in name and missing_toolchain(lang) is None]
