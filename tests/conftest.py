"""Shared fixtures: a real plugin package installed with pip, and real `referee serve` processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

TESTS = Path(__file__).parent
DEMO_PLUGIN = TESTS / "plugins" / "referee-demo-plugin"
ENV_PLUGIN_DIR = TESTS / "plugins" / "env_plugin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(*args: str, env: dict[str, str] | None = None, ready_timeout: float = 60.0) -> Iterator[str]:
    """Start `referee serve` in a subprocess; yield its base URL; stop it."""
    port = free_port()
    full_env = os.environ | {"PYTHONPATH": str(ENV_PLUGIN_DIR), "REFEREE_PLUGINS": "referee_env_plugin"} | (env or {})
    cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--log-level", "warning", *args]
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited early: {proc.stdout.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session", autouse=True)
def demo_plugin() -> Iterator[None]:
    """`pip install` a real third-party plugin package into this environment, for the session.

    Autouse, so it is in place before any registry or worker pool of this process is built.
    """
    from verifiers.registry import default_registry

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", str(DEMO_PLUGIN)], check=True)
    default_registry(reload=True)
    try:
        yield
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "referee-demo-plugin"], check=False)
        default_registry(reload=True)


@pytest.fixture(scope="session")
def server(demo_plugin: None) -> Iterator[str]:
    with running_server("--workers", "2", "--timeout", "5") as url:
        yield url


TRAINER_CODE = Path(sys.prefix) / "trainer-code"  # OpenRLHF and verl, installed without deps (Makefile)


@pytest.fixture(scope="session")
def trainer_code() -> Path:
    """Put the trainers' own packages (installed --no-deps into the venv's trainer-code) on sys.path."""
    if not (TRAINER_CODE / "openrlhf").is_dir():
        pytest.fail(f"{TRAINER_CODE} lacks the trainers' code: run `make .venv/.installed-test`")
    if str(TRAINER_CODE) not in sys.path:
        sys.path.append(str(TRAINER_CODE))
    return TRAINER_CODE
