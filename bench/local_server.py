"""A real `referee serve` on a free loopback port, for benchmarks that go through HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int | None, env: dict[str, str] | None = None,
                 source: str | None = None) -> tuple[subprocess.Popen, str]:
    """Start the service and wait until it is ready; returns the process and its base URL.

    `source`: a checkout of another revision (a `git worktree`) to serve instead of this one."""
    port = free_port()
    cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--log-level", "warning"]
    if workers:
        cmd += ["--workers", str(workers)]
    extra = {"PYTHONPATH": source} if source else {}
    proc = subprocess.Popen(cmd, env=os.environ | extra | (env or {}), cwd=source)
    url = f"http://127.0.0.1:{port}"
    return proc, wait_until_up(proc, url, "/readyz", "server")


def wait_until_up(proc: subprocess.Popen, url: str, probe: str, what: str) -> str:
    """Poll `url + probe` until it answers 200 (up to a minute); kill `proc` and exit if it never does."""
    for _ in range(600):
        try:
            if httpx.get(f"{url}{probe}").status_code == 200:
                return url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{what} did not start")
