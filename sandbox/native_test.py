"""The frame of a native trusted test: a test process built from trusted source by the sandbox's
test server (or built already: Java's class files from the service's warm javac) and run against
the program over pipes (see `_native_test_child` in sandbox/zygote.py; the C++, Rust and Java
bridges, sandbox/cpp_bridge.py, sandbox/rust_bridge.py and sandbox/java_bridge.py, make it)."""

from __future__ import annotations

import hashlib


def test_frame(files: dict[str, str | bytes], build: list[str] | None, run: list[str],
               tasks: int | None = None) -> dict:
    """Built once per sandbox and key (the build command and files, so a changed test or compiler
    flag is a new build), in the files' directory, then run there with the pipes to the program on
    fds 3 and 4; its exit status is the verdict. Without `build`, the files are the built test.
    `tasks`: the processes and threads the test needs (a JVM's), when more than the default."""
    digest = hashlib.sha256("\0".join([*(build or ["(built)"]), *run]).encode("utf-8", "surrogatepass"))
    for name, content in sorted(files.items()):
        digest.update(b"\0" + name.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    frame = {"runner": "native", "key": digest.hexdigest()[:32], "files": dict(files), "run": list(run)}
    if build:
        frame["build"] = list(build)
    if tasks is not None:
        frame["tasks"] = tasks
    return frame


def split_top_level(text: str) -> list[str]:
    """`text` split at the commas outside any brackets (`<>`, `()`, `[]`; a Rust `->` is not one):
    a declaration's parameter list, or a generic type's arguments."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<([":
            depth += 1
        elif ch in ">)]" and not (ch == ">" and text[i - 1:i] == "-"):
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]
