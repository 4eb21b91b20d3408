"""Real `referee serve` processes with ORS environments configured, and the real `openreward` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import running_server

KEY_A, KEY_B = "key-a", "key-b"
SECRET_REFERENCE = "7093481"  # a task-file reference that must never appear in any response
TASK_ROWS = [
    {"prompt": "What is 6*7?", "verifier": "math", "reference": "42"},
    {"prompt": "What is 7093000 + 481?", "verifier": "math", "reference": SECRET_REFERENCE},
    {"prompt": "What is 2+2?", "verifier": "math", "reference": "4", "split": "test"},
]
CONFIG = """
[defaults]
splits = {{ train = {{ size = 50, difficulty = "easiest" }}, test = {{ size = 20, difficulty = "hardest" }} }}

[env.subset_sum]
max_attempts = 3
discount = 0.5

[env.n_queens]
enabled = false

[task_files.arith]
path = "{tasks}"
"""


@pytest.fixture(scope="session")
def ors_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ors")
    tasks = root / "arith.jsonl"
    tasks.write_text("".join(json.dumps(row) + "\n" for row in TASK_ROWS))
    config = root / "ors.toml"
    config.write_text(CONFIG.format(tasks=tasks))
    return config


@pytest.fixture(scope="session")
def ors_url(ors_files: Path) -> Iterator[str]:
    """Two API keys (two users), fast keep-alive pings, a 2 s wall clock per run_python call."""
    env = {"REFEREE_API_KEYS": f"{KEY_A},{KEY_B}", "REFEREE_ORS_PING_INTERVAL_S": "0.3",
           "REFEREE_ORS_PYTHON_WALL_S": "2", "OPENREWARD_DISABLE_UPDATE_CHECK": "1"}
    with running_server("--workers", "1", "--ors-config", str(ors_files), env=env) as url:
        yield url


@pytest.fixture(scope="session")
def small_url(ors_files: Path) -> Iterator[str]:
    """No keys; at most 200 live sessions."""
    with running_server("--workers", "1", "--max-sessions", "200",
                        "--task-file", f"arith={ors_files.parent / 'arith.jsonl'}") as url:
        yield url


@pytest.fixture(scope="session")
def expiring_url(ors_files: Path) -> Iterator[str]:
    """No keys; sessions expire after 1.5 s without a request."""
    with running_server("--workers", "1", "--session-idle", "1.5",
                        "--task-file", f"arith={ors_files.parent / 'arith.jsonl'}") as url:
        yield url


@pytest.fixture
def openreward_env(monkeypatch: pytest.MonkeyPatch):
    """Point the `openreward` client at a base URL (its sessions host comes from the environment)."""
    def configure(url: str, key: str | None = KEY_A) -> None:
        monkeypatch.setenv("OPENREWARD_SESSION_URL", f"{url}/v1/ors/")
        monkeypatch.setenv("OPENREWARD_API_URL", f"{url}/")
        monkeypatch.setenv("OPENREWARD_DISABLE_UPDATE_CHECK", "1")
        monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
        if key is None:
            monkeypatch.delenv("OPENREWARD_API_KEY", raising=False)
        else:
            monkeypatch.setenv("OPENREWARD_API_KEY", key)
    return configure


@pytest.fixture
def client_a(ors_url: str, openreward_env) -> Iterator[object]:
    from openreward import OpenReward

    openreward_env(ors_url, KEY_A)
    client = OpenReward(base_url=f"{ors_url}/v1/ors")
    try:
        yield client
    finally:
        client.close()


def http(url: str, key: str | None = KEY_A, sid: str | None = None) -> httpx.Client:
    headers = {}
    if key:
        headers["X-API-Key"] = key
    if sid:
        headers["X-Session-ID"] = sid
    return httpx.Client(base_url=f"{url}/v1/ors", headers=headers, timeout=30)


def open_session(url: str, env_name: str, key: str | None = KEY_A, **create: object) -> str:
    with http(url, key) as c:
        sid = c.post("/create_session").json()["sid"]
        reply = c.post("/create", headers={"X-Session-ID": sid}, json={"env_name": env_name, **create})
        assert reply.status_code == 200, reply.text
        return sid


def call_tool(url: str, sid: str, name: str, tool_input: dict, key: str | None = KEY_A,
              task_id: str | None = None) -> tuple[dict, list[str]]:
    """POST /call, parse the SSE stream: (the joined JSON result, the raw lines)."""
    body: dict = {"name": name, "input": tool_input}
    if task_id:
        body["task_id"] = task_id
    lines: list[str] = []
    with http(url, key, sid) as c, c.stream("POST", "/call", json=body) as reply:
        assert reply.status_code == 200, reply.read()
        assert reply.headers["content-type"].startswith("text/event-stream")
        for line in reply.iter_lines():
            lines.append(line)
    data, event = [], None
    for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event in ("chunk", "end"):
            data.append(line.split(":", 1)[1].lstrip())
        elif line.startswith("data:") and event == "error":
            raise AssertionError(f"SSE error event: {line}")
    return json.loads("".join(data)), lines
