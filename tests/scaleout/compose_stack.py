"""The repository's docker-compose.yml brought up for real with podman-compose, for the stack test.

Images come from scripts/build-images (a debootstrap base image kept in podman's store between
runs, so only the first run on a machine pays for it); no registry is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "referee-stack-test"
API_KEY = "stack-test-key"
IMAGE = "localhost/referee:stack-test"
REDIS_IMAGE = "localhost/referee-redis:bookworm"


def unavailable_reason() -> str | None:
    """Why the stack cannot be brought up on this machine, or None."""
    if os.geteuid() != 0:
        return "the compose stack test builds images with debootstrap and rootful podman: run it as root"
    for tool in ("podman", "debootstrap", "runc"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            return f"{tool} is not installed (scripts/ensure-system-packages installs it)"
    if podman_compose() is None:
        return "podman-compose is not installed (it is in the test extra)"
    return None


def podman_compose() -> str | None:
    beside = Path(sys.executable).with_name("podman-compose")
    return str(beside) if beside.exists() else shutil.which("podman-compose")


class Stack:
    """1 redis, `apis` API replicas and `workers` worker replicas from docker-compose.yml."""

    def __init__(self, apis: int = 2, workers: int = 2, visibility_s: float = 3.0) -> None:
        self.env = os.environ | {
            "CONTAINERS_CONF": str(ROOT / "scripts" / "podman" / "containers.conf"),
            "REFEREE_IMAGE": IMAGE,
            "REFEREE_REDIS_IMAGE": REDIS_IMAGE,
            "REFEREE_API_KEYS": API_KEY,
            "REFEREE_API_REPLICAS": str(apis),
            "REFEREE_WORKER_REPLICAS": str(workers),
            "REFEREE_WORKER_PROCESSES": "2",
            "REFEREE_REDIS_VISIBILITY_S": str(visibility_s),
            "REFEREE_REDIS_MAXMEMORY": "128mb",
        }
        self.apis = apis
        self.workers = workers
        self.urls: list[str] = []

    def build(self) -> None:
        subprocess.run(["bash", str(ROOT / "scripts" / "build-images")], env=self.env, check=True, timeout=1500)

    def compose(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        cmd = [podman_compose() or "podman-compose", "-p", PROJECT, "-f", str(ROOT / "docker-compose.yml"), *args]
        return subprocess.run(cmd, env=self.env, cwd=ROOT, check=check, timeout=timeout, capture_output=True,
                              text=True)

    def podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["podman", *args], env=self.env, check=check, timeout=120, capture_output=True,
                              text=True)

    def container(self, service: str, number: int) -> str:
        return f"{PROJECT}_{service}_{number}"

    def up(self) -> None:
        self.down()
        try:
            self.compose("up", "-d", "--no-build")
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"podman-compose up failed:\n{exc.stdout}\n{exc.stderr}") from None
        self.urls = [self._published_url(self.container("api", n)) for n in range(1, self.apis + 1)]
        for url in self.urls:
            self.wait_ready(url, timeout_s=180)

    def _published_url(self, container: str) -> str:
        deadline = time.monotonic() + 30
        while True:
            out = self.podman("port", container, "8000/tcp", check=False).stdout.strip()
            if out:
                return "http://" + out.splitlines()[0].strip()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{container} publishes no port: {self.logs(container)}")
            time.sleep(0.5)

    def wait_ready(self, url: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"{url}/readyz", timeout=2)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise RuntimeError(f"{url} not ready after {timeout_s}s: {last}\n{self.all_logs()}")

    def logs(self, container: str) -> str:
        return self.podman("logs", "--tail", "40", container, check=False).stdout[-4000:]

    def all_logs(self) -> str:
        names = [self.container("redis", 1)] + [self.container("api", n) for n in range(1, self.apis + 1)] + \
                [self.container("worker", n) for n in range(1, self.workers + 1)]
        return "\n".join(f"--- {n}\n{self.logs(n)}" for n in names)

    def down(self) -> None:
        self.compose("down", "-t", "2", check=False, timeout=180)

    def client(self, url: str) -> httpx.Client:
        return httpx.Client(base_url=url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=120)
