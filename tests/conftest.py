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
    python_path = os.pathsep.join(filter(None, [str(ENV_PLUGIN_DIR), os.environ.get("PYTHONPATH")]))
    full_env = os.environ | {"PYTHONPATH": python_path, "REFEREE_PLUGINS": "referee_env_plugin"} | (env or {})
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
def demo_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`pip install` a real third-party plugin package (with hostile verifiers) for the session.

    It goes into a directory of its own, put on this process's path and on $PYTHONPATH of the
    servers the tests start, never into the environment `make serve` uses. Autouse, so it is in
    place before any registry or worker pool of this process is built.
    """
    from verifiers.registry import default_registry

    site = tmp_path_factory.mktemp("plugin-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                    str(DEMO_PLUGIN)], check=True)
    old_python_path = os.environ.get("PYTHONPATH")
    sys.path.insert(0, str(site))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), old_python_path]))
    default_registry(reload=True)
    try:
        yield
    finally:
        sys.path.remove(str(site))
        if old_python_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old_python_path
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
