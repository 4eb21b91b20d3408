"""docker-compose.yml brought up for real: 1 redis, 2 API and 2 worker containers (podman-compose).

Scores math and code items through the ports published on 127.0.0.1, kills a worker container in
the middle of a batch (no verdict may be lost), restarts Redis (the stack must recover), and tears
everything down. The first run on a machine builds the images (a few minutes); later runs reuse them.
"""

from __future__ import annotations

import threading
import time

import pytest

from compose_stack import PROJECT, Stack, unavailable_reason
from scaleout_helpers import wait_for_metric

pytestmark = pytest.mark.timeout(1800)

ADD = {"tests": [{"stdin": "1 2", "stdout": "3"}, {"stdin": "5 5", "stdout": "10"}]}


def code_item(i: int, correct: bool, pause_s: float = 0.0) -> dict:
    program = "a, b = map(int, input().split())\nprint(a + b)" if correct else "print(0)"
    if pause_s:  # keeps the batch in flight long enough for a worker to be killed holding part of it
        program = f"import time\ntime.sleep({pause_s})\n{program}"
    # A distinct comment per item: no two items are the same work, so none is deduplicated or cached.
    return {"id": f"code-{i}", "verifier": "code", "completion": f"```python\n# {i}\n{program}\n```",
            "reference": ADD}


def math_item(i: int) -> dict:
    return {"id": f"math-{i}", "verifier": "math", "completion": f"The answer is $\\boxed{{{i} + 1/2}}$",
            "reference": f"{2 * i + 1}/2"}


@pytest.fixture(scope="module")
def stack():
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    s = Stack()
    s.build()
    try:
        s.up()
        yield s
    finally:
        s.down()
        leftover = s.podman("ps", "-a", "--filter", f"name={PROJECT}", "-q", check=False).stdout
        assert not leftover.strip(), f"containers left after teardown: {leftover}"


def post(stack: Stack, url: str, items: list[dict], timeout_s: float = 20) -> list[dict]:
    with stack.client(url) as http:
        r = http.post("/v1/verify", json={"items": items, "timeout_s": timeout_s})
    assert r.status_code == 200, r.text[:500]
    return r.json()["verdicts"]


def test_math_and_code_through_both_replicas(stack):
    for replica, url in enumerate(stack.urls):
        items = [math_item(i) for i in range(20)] + [code_item(1000 * replica + i, i % 2 == 0) for i in range(6)]
        verdicts = post(stack, url, items)
        assert [v["id"] for v in verdicts] == [i["id"] for i in items]
        assert all(v["status"] == "ok" for v in verdicts), [v for v in verdicts if v["status"] != "ok"][:2]
        assert [v["reward"] for v in verdicts[:20]] == [1.0] * 20
        assert [v["reward"] for v in verdicts[20:]] == [1.0, 0.0] * 3
    # A verdict computed behind one replica is served from the shared cache by the other.
    first = post(stack, stack.urls[0], [math_item(7)])[0]
    second = post(stack, stack.urls[1], [math_item(7)])[0]
    assert first["reward"] == second["reward"] == 1.0 and second["cached"] is True


def test_a_worker_killed_mid_batch_loses_no_verdict(stack):
    items = [code_item(10_000 + i, i % 3 != 0, pause_s=0.05) for i in range(240)]
    result: dict = {}

    def send() -> None:
        result["verdicts"] = post(stack, stack.urls[0], items, timeout_s=30)

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(1.5)  # both workers hold chunks of the batch by now
    victim = stack.container("worker", 1)
    stack.podman("kill", victim)
    sender.join(600)
    verdicts = result["verdicts"]
    assert [v["id"] for v in verdicts] == [i["id"] for i in items]
    assert [v["status"] for v in verdicts] == ["ok"] * len(items), \
        [v for v in verdicts if v["status"] != "ok"][:3]
    assert [v["reward"] for v in verdicts] == [0.0 if i % 3 == 0 else 1.0 for i in range(len(items))]
    # The API's view of the shared counters is refreshed periodically: wait for it.
    assert wait_for_metric(stack.urls[0], "referee_reclaimed_tasks_total", 1, timeout_s=20) >= 1
    stack.podman("start", victim, check=False)  # the restart policy may already have done it


def test_the_stack_recovers_from_a_redis_restart(stack):
    stack.podman("restart", "-t", "1", stack.container("redis", 1))
    for url in stack.urls:
        stack.wait_ready(url, timeout_s=90)
    verdicts = post(stack, stack.urls[1], [math_item(i) for i in range(50, 60)] + [code_item(20_000, True)])
    assert [v["status"] for v in verdicts] == ["ok"] * 11
    assert all(v["reward"] == 1.0 for v in verdicts)
