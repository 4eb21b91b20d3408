"""The frame of a native trusted test: an executable built from trusted source by the sandbox's
test server and run against the program over pipes (see `_native_test_child` in
sandbox/zygote.py; the C++ and Rust bridges, sandbox/cpp_bridge.py and sandbox/rust_bridge.py,
make its source)."""

from __future__ import annotations

import hashlib


def test_frame(files: dict[str, str], build: list[str], run: list[str]) -> dict:
    """Built once per sandbox and key (the build command and sources, so a changed test or
    compiler flag is a new build), in the files' directory, then run there with the pipes to the
    program on fds 3 and 4; its exit status is the verdict."""
    key = hashlib.sha256("\0".join([*build, *run, *(f"{name}\0{text}" for name, text in sorted(files.items()))])
                         .encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return {"runner": "native", "key": key, "files": dict(files), "build": list(build), "run": list(run)}
