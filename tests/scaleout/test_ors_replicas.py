"""ORS sessions on the distributed service (`serve --redis`, `referee worker`), and what two API
replicas do not share yet: a session lives in the API process that created it."""

from __future__ import annotations

import json

import httpx
import pytest

from scaleout_helpers import WorkerProcess, service_env
from tests.conftest import running_server

pytestmark = pytest.mark.timeout(240)


def call(url: str, sid: str, name: str, tool_input: dict) -> dict:
    reply = httpx.post(f"{url}/v1/ors/arith/call", headers={"X-Session-ID": sid},
                       json={"name": name, "input": tool_input}, timeout=60)
    data = [line[5:].strip() for line in reply.text.splitlines() if line.startswith("data:")]
    return json.loads("".join(data[1:]))  # after the task id


def test_ors_over_redis_scores_on_workers_and_sessions_stay_on_their_replica(tmp_path, redis_server) -> None:
    tasks = tmp_path / "arith.jsonl"
    tasks.write_text(json.dumps({"prompt": "What is 6*7?", "verifier": "math", "reference": "42"}) + "\n")
    env = service_env(redis_server.url, REFEREE_ORS_TASK_FILES=f"arith={tasks}")
    worker = WorkerProcess(env, processes=1).start()
    try:
        with running_server("--workers", "0", env=env) as first, running_server("--workers", "0", env=env) as second:
            sid = httpx.post(f"{first}/v1/ors/create_session").json()["sid"]
            created = httpx.post(f"{first}/v1/ors/create", headers={"X-Session-ID": sid},
                                 json={"env_name": "arith", "split": "train", "index": 0})
            assert created.status_code == 200
            assert call(first, sid, "run_python", {"code": "x = 40"})["ok"]
            assert call(first, sid, "run_python", {"code": "x + 2"})["output"]["blocks"][0]["text"] == "42"
            # Not shared yet: the other replica does not know the session (docs/sessions.md says so).
            assert httpx.get(f"{second}/v1/ors/arith/prompt", headers={"X-Session-ID": sid}).status_code == 404
            scored = call(first, sid, "submit", {"answer": "42"})["output"]  # scored by the Redis worker
            assert (scored["reward"], scored["finished"]) == (1.0, True)
            redis_server.stop()  # Redis down: a submit is not scored, and not counted, never a crash
            sid2 = httpx.post(f"{first}/v1/ors/create_session").json()["sid"]
            httpx.post(f"{first}/v1/ors/create", headers={"X-Session-ID": sid2},
                       json={"env_name": "arith", "split": "train", "index": 0})
            down = call(first, sid2, "submit", {"answer": "42"})["output"]
            assert down["reward"] is None and down["finished"] is False
            assert down["metadata"]["status"] == "unavailable"
    finally:
        worker.stop()
