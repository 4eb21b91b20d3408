"""Real processes for the scale-out tests: `redis-server` on a free port, `referee worker`s."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

from tests.conftest import ENV_PLUGIN_DIR, free_port


class RedisServer:
    def __init__(self, maxmemory: str = "64mb") -> None:
        self.port = free_port()
        self.maxmemory = maxmemory
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--maxmemory", self.maxmemory, "--maxmemory-policy", "volatile-lru"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


PLUGINS_DIR = Path(__file__).parent / "plugins"


def service_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of API and worker processes: same plugins (so the same registry fingerprint)."""
    return {
        "PYTHONPATH": os.pathsep.join([str(ENV_PLUGIN_DIR), str(PLUGINS_DIR)]),
        "REFEREE_PLUGINS": "referee_env_plugin,referee_scaleout_plugin",
        "REFEREE_REDIS_URL": redis_url,
        **extra,
    }


class WorkerProcess:
    """`referee worker` in its own process group (a test can kill the group, pool and all)."""

    def __init__(self, env: dict[str, str], processes: int = 1) -> None:
        self.env = os.environ | env
        self.processes = processes
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "worker", "--processes", str(self.processes), "--log-level", "warning"],
            env=self.env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


def metric(url: str, name: str) -> float:
    """The value of an unlabelled Prometheus sample from GET /metrics (0 when absent)."""
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_for_metric(url: str, name: str, at_least: float, timeout_s: float = 10) -> float:
    """The API refreshes its view of the shared queue twice a second: wait for it to show `at_least`."""
    deadline = time.monotonic() + timeout_s
    while (value := metric(url, name)) < at_least:
        if time.monotonic() > deadline:
            return value
        time.sleep(0.2)
    return value
