"""`referee serve --redis` and `referee worker` as real processes around a real `redis-server`.

Through HTTP and the CLI only: workers SIGKILLed mid-chunk, a poison task, a Redis restart, the
cache shared by two API replicas, readiness that counts live workers.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx
import pytest

from scaleout_helpers import WorkerProcess, service_env, wait_for_metric
from tests.conftest import running_server

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def workers():
    started: list[WorkerProcess] = []

    def start(env: dict[str, str], processes: int = 1) -> WorkerProcess:
        worker = WorkerProcess(env, processes).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def post(url: str, items: list[dict], timeout_s: float = 10) -> httpx.Response:
    return httpx.post(f"{url}/v1/verify", json={"items": items, "timeout_s": timeout_s}, timeout=120)


def exact(i: int) -> dict:
    return {"id": i, "verifier": "exact", "completion": f"w{i}", "reference": f"w{i - i % 2}"}


def test_a_worker_killed_mid_chunk_loses_no_verdict(redis_server, workers):
    env = service_env(redis_server.url, REFEREE_REDIS_VISIBILITY_S="1.5")
    first = workers(env, processes=2)
    with running_server("--workers", "0", env=env) as url:
        items = [{"id": i, "verifier": "scaleout:nap", "completion": str(i), "params": {"seconds": 0.1}}
                 for i in range(40)] + [exact(i) for i in range(40, 80)]
        result: dict = {}
        sender = threading.Thread(target=lambda: result.update(response=post(url, items)))
        sender.start()
        time.sleep(1.0)  # the worker holds chunks of the batch and is sleeping through them
        first.kill()
        workers(env, processes=2)
        sender.join(120)
        response = result["response"]
        assert response.status_code == 200, response.text
        verdicts = response.json()["verdicts"]
        assert [v["id"] for v in verdicts] == list(range(80))
        assert [v["status"] for v in verdicts] == ["ok"] * 80
        assert [v["reward"] for v in verdicts] == [1.0] * 40 + [1.0, 0.0] * 20
        assert wait_for_metric(url, "referee_reclaimed_tasks_total", 1) >= 1


def test_a_poison_task_is_answered_error_after_bounded_attempts(redis_server, workers):
    env = service_env(redis_server.url, REFEREE_REDIS_VISIBILITY_S="1", REFEREE_REDIS_MAX_ATTEMPTS="2")
    pool = [workers(env), workers(env)]
    stop = threading.Event()

    def supervise() -> None:  # what a restart policy does: a dead worker is started again
        while not stop.is_set():
            for i, worker in enumerate(pool):
                if not worker.alive:
                    pool[i] = workers(env)
            time.sleep(0.2)

    supervisor = threading.Thread(target=supervise, daemon=True)
    supervisor.start()
    try:
        with running_server("--workers", "0", env=env) as url:
            items = [exact(i) for i in range(6)]
            items.insert(3, {"id": "poison", "verifier": "scaleout:kill-worker", "completion": "boom"})
            response = post(url, items, timeout_s=5)
            assert response.status_code == 200, response.text
            by_id = {v["id"]: v for v in response.json()["verdicts"]}
            assert by_id["poison"]["status"] == "error"
            assert "2 workers died" in by_id["poison"]["message"]
            assert [by_id[i]["status"] for i in range(6)] == ["ok"] * 6
            assert wait_for_metric(url, "referee_poison_tasks_total", 1) >= 1
            assert post(url, [exact(100)]).json()["verdicts"][0]["status"] == "ok"  # the stack serves on
    finally:
        stop.set()
        supervisor.join()


def test_redis_down_is_a_fast_503_and_both_sides_reconnect(redis_server, workers):
    env = service_env(redis_server.url)
    worker = workers(env)
    with running_server("--workers", "0", env=env) as url:
        assert post(url, [exact(0)]).json()["verdicts"][0]["reward"] == 1.0
        redis_server.stop()
        time.sleep(1.0)
        started = time.monotonic()
        response = post(url, [exact(2)])
        assert response.status_code == 503 and "Redis" in response.json()["detail"]
        assert time.monotonic() - started < 2.0
        assert response.headers["retry-after"]
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 503 and "Redis is unreachable" in ready.json()["reason"]

        redis_server.start()  # empty, on the same port
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, httpx.get(f"{url}/readyz").text
            time.sleep(0.2)
        verdicts = post(url, [exact(i) for i in range(10)]).json()["verdicts"]
        assert [v["reward"] for v in verdicts] == [1.0, 0.0] * 5
        assert worker.alive


def test_two_api_replicas_share_the_cache_and_count_live_workers(redis_server, workers):
    env = service_env(redis_server.url)
    worker = workers(env, processes=2)
    with running_server("--workers", "0", env=env) as first, running_server("--workers", "0", env=env) as second:
        ready = httpx.get(f"{second}/readyz", timeout=5).json()
        assert ready["workers"] == 1 and ready["processes"] == 2 and ready["redis"] == "ok"
        item = {"id": "x", "verifier": "math", "completion": "$\\boxed{0.25}$", "reference": "\\frac{1}{4}"}
        one = post(first, [item]).json()["verdicts"][0]
        two = post(second, [item]).json()["verdicts"][0]
        assert (one["reward"], one["cached"]) == (1.0, False)
        assert (two["reward"], two["cached"], two["id"]) == (1.0, True, "x")

        worker.stop()  # SIGTERM: it leaves the worker set at once
        deadline = time.monotonic() + 10
        while (r := httpx.get(f"{first}/readyz", timeout=5)).status_code != 503:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert r.json()["reason"] == "no live workers"
        refused = post(first, [exact(3)])
        assert refused.status_code == 503 and "no live workers" in refused.json()["detail"]


def test_serve_hosts_local_workers_and_the_worker_cli_needs_redis(redis_server):
    env = service_env(redis_server.url)
    with running_server("--workers", "1", env=env) as url:  # API plus a local worker, on Redis
        verdicts = post(url, [exact(i) for i in range(4)]).json()["verdicts"]
        assert [v["reward"] for v in verdicts] == [1.0, 0.0, 1.0, 0.0]
        assert "referee_queue_depth" in httpx.get(f"{url}/metrics", timeout=5).text
    missing = subprocess.run([sys.executable, "-m", "server.cli", "worker"], capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert missing.returncode != 0 and "REFEREE_REDIS_URL" in missing.stderr
