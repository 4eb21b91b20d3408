"""Runtime verifiers on the scale-out stack: registered through one API replica, stored in Redis,
scored by two `referee worker` processes that pick them up without a restart."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest

from scaleout_helpers import WorkerProcess, service_env
from tests.conftest import running_server

pytestmark = pytest.mark.timeout(300)

SOURCE = """
def score(completion, reference, params):
    return {"reward": float(completion.strip() == reference), "details": {"len": len(completion)}}
"""


def _spec(name: str, **definition) -> dict:
    return {"name": name, "version": 1, "accept": [{"completion": "42", "reference": "42"}],
            "reject": [{"completion": "41", "reference": "42"}], **definition}


def _wait_ready(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while httpx.get(f"{url}/readyz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, httpx.get(f"{url}/readyz", timeout=5).text
        time.sleep(0.2)


def test_registered_through_one_replica_scored_by_two_workers_kept_in_redis(redis_server, tmp_path):
    env = service_env(redis_server.url, REFEREE_VERIFIER_STORE=str(tmp_path / "unused.json"))
    workers = [WorkerProcess(env, processes=1).start() for _ in range(2)]
    try:
        with running_server("--workers", "0", env=env) as api, running_server("--workers", "0", env=env) as other:
            response = httpx.post(f"{api}/v1/verifiers", json=_spec("r:eq", kind="python", source=SOURCE), timeout=120)
            assert response.status_code == 201, response.text
            preset = _spec("r:exact", kind="preset", base="exact", params={"case_sensitive": True})
            assert httpx.post(f"{api}/v1/verifiers", json=preset, timeout=120).status_code == 201
            stored = orjson.loads(redis_server.client().get("referee:verifiers"))["registrations"]
            assert [r["spec"]["name"] for r in stored] == ["r:eq", "r:exact"]
            assert not (tmp_path / "unused.json").exists()  # on Redis, the file store is not used

            _wait_ready(api)
            items = [{"id": i, "verifier": "r:eq", "completion": str(40 + i % 4), "reference": "42"} for i in range(200)]
            items.append({"id": "p", "verifier": "r:exact", "completion": "42", "reference": "42"})
            verdicts = httpx.post(f"{api}/v1/verify", json={"items": items}, timeout=120).json()["verdicts"]
            assert [v["reward"] for v in verdicts[:200]] == [1.0 if i % 4 == 2 else 0.0 for i in range(200)]
            assert {v["status"] for v in verdicts} == {"ok"} and verdicts[200]["verifier"] == "r:exact@1"
            # More chunks at once than one worker holds (4), so that both take some.
            batches = [[{"verifier": "r:eq", "completion": f"{b}-{i}", "reference": f"{b}-{i}"} for i in range(60)]
                       for b in range(8)]
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda batch: httpx.post(f"{api}/v1/verify", json={"items": batch},
                                                                 timeout=120).json()["verdicts"], batches))
            assert all(v["reward"] == 1.0 for answer in answers for v in answer)
            deadline = time.monotonic() + 5  # workers publish their counts with each heartbeat
            while True:
                info = [orjson.loads(v) for v in redis_server.client().hgetall("referee:worker-info").values()]
                if len(info) == 2 and all(w["done"] > 0 for w in info) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert len(info) == 2 and all(w["done"] > 0 for w in info), info  # both workers scored

            # The other replica follows the registration through Redis, and the retirement too.
            deadline = time.monotonic() + 15
            while "r:eq@1" not in {v["spec"] for v in httpx.get(f"{other}/v1/verifiers").json()["verifiers"]}:
                assert time.monotonic() < deadline
                time.sleep(0.3)
            assert httpx.delete(f"{api}/v1/verifiers/r:eq@1", timeout=60).status_code == 200
            deadline = time.monotonic() + 15
            while True:
                _wait_ready(other)
                body = {"items": [{"verifier": "r:eq@1", "completion": "42", "reference": "42"}]}
                verdict = httpx.post(f"{other}/v1/verify", json=body, timeout=60).json()["verdicts"][0]
                if verdict["status"] == "invalid_input":
                    assert "retired" in verdict["message"]
                    break
                assert time.monotonic() < deadline, verdict
                time.sleep(0.3)

        # A restarted API finds the registrations in Redis.
        with running_server("--workers", "0", env=env) as api:
            _wait_ready(api)
            body = {"items": [{"verifier": "r:exact", "completion": "42", "reference": "42"},
                              {"verifier": "r:eq@1", "completion": "42", "reference": "42"}]}
            kept, retired = httpx.post(f"{api}/v1/verify", json=body, timeout=60).json()["verdicts"]
            assert (kept["status"], kept["reward"]) == ("ok", 1.0)
            assert retired["status"] == "invalid_input" and "retired" in retired["message"]
    finally:
        for worker in workers:
            worker.stop()
