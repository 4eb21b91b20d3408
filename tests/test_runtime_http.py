"""The runtime through HTTP on a real `referee serve` (uvicorn picks uvloop, which is installed with
`uvicorn[standard]`: the loop under which large items used to kill workers): garbage from verifiers,
items at the size limits, admission control (429 + Retry-After) and fairness across requests."""

from __future__ import annotations

import re
import threading
import time

import httpx
import orjson

from server.client import RefereeClient
from tests.conftest import running_server


def post(url: str, payload: object, **kw) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return httpx.post(f"{url}/v1/verify", content=body, timeout=300, **kw)


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_garbage_from_verifiers_is_an_error_and_the_batch_is_answered(server):
    items = [
        {"id": "none", "verifier": "demo:none", "completion": "x"},
        {"id": "float", "verifier": "demo:float", "completion": "x"},
        {"id": "nan", "verifier": "demo:nonfinite", "completion": "nan"},
        {"id": "inf", "verifier": "demo:nonfinite", "completion": "inf"},
        {"id": "-inf", "verifier": "demo:nonfinite", "completion": "-inf"},
        {"id": "exit", "verifier": "demo:sys_exit", "completion": "x"},
        {"id": "details", "verifier": "demo:unserialisable", "completion": "x"},
        {"id": "overflow", "verifier": "composite", "completion": "4", "reference": "4",
         "params": {"parts": [{"verifier": "numeric", "weight": 1e308}, {"verifier": "exact", "weight": 1e308}]}},
        {"id": "good", "verifier": "exact", "completion": "a", "reference": "a"},
    ]
    response = post(server, {"items": items})
    assert response.status_code == 200
    by_id = {v["id"]: v for v in response.json()["verdicts"]}
    assert "expected a Verdict, got None" in by_id["none"]["message"]
    assert "expected a Verdict, got float" in by_id["float"]["message"]
    for key in ("none", "float", "nan", "inf", "-inf", "exit", "overflow"):
        assert by_id[key]["status"] == "error" and by_id[key]["reward"] == 0.0, by_id[key]
    assert "not finite" in by_id["nan"]["message"] and "not finite" in by_id["overflow"]["message"]
    assert by_id["nan"]["verifier"] == "demo:nonfinite@1"
    details = by_id["details"]["details"]
    assert by_id["details"]["status"] == "ok" and details["tags"] == ["a"] and details["3"] == "three"
    assert "details_note" in details and details["fine"] == [1, 2]
    assert by_id["good"]["reward"] == 1.0
    # a number JSON cannot carry (1e400 reads as infinity) makes the whole body a 422, like NaN
    raw = (b'{"items": [{"verifier": "composite", "completion": "4", "reference": "4", '
           b'"params": {"parts": [{"verifier": "numeric", "weight": 1e400}]}}]}')
    refused = post(server, raw)
    assert refused.status_code == 422 and "non-finite" in refused.json()["detail"]
    with RefereeClient(server) as client:  # the shipped client reads every one of them
        assert len(client.verify(items)) == len(items)


def test_items_at_the_size_limits_travel_to_and_from_workers(server):
    crashes_before = metric(server, 'referee_worker_restarts{reason="crash"}')
    big = [{"id": i, "verifier": "exact", "completion": f"{i}" + "x" * 400_000, "reference": f"{i}" + "x" * 400_000}
           for i in range(16)]
    limit = [{"id": "1MB", "verifier": "exact", "completion": "y" * 1_000_000, "reference": "y" * 1_000_000}]
    medium = [{"id": f"m{i}", "verifier": "exact", "completion": f"{i}" + "z" * 30_000, "reference": "no"}
              for i in range(64)]
    verdicts = post(server, {"items": big + limit + medium}).json()["verdicts"]
    assert [v["status"] for v in verdicts] == ["ok"] * len(verdicts)
    assert [v["reward"] for v in verdicts] == [1.0] * 17 + [0.0] * 64
    assert metric(server, 'referee_worker_restarts{reason="crash"}') == crashes_before


def test_overload_is_429_with_retry_after_and_the_server_keeps_answering(demo_plugin):
    env = {"REFEREE_MAX_PENDING_ITEMS": "8"}
    with running_server("--workers", "2", env=env) as url:
        slow = {"items": [{"verifier": "demo:sleep", "completion": str(i)} for i in range(4)], "timeout_s": 1.5}
        holder = threading.Thread(target=post, args=(url, slow))
        holder.start()
        deadline = time.monotonic() + 30
        while metric(url, "referee_pending_items") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        more = {"items": [{"verifier": "exact", "completion": str(i), "reference": "1"} for i in range(5)]}
        refused = post(url, more)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        assert "REFEREE_MAX_PENDING_ITEMS" in refused.json()["detail"]
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert post(url, {"items": more["items"][:4]}).status_code == 200  # 4 + 4 fits the bound
        holder.join()
        accepted = post(url, more)
        assert accepted.status_code == 200 and [v["reward"] for v in accepted.json()["verdicts"]][1] == 1.0


def test_a_small_request_is_answered_while_a_full_size_batch_runs(server):
    batch = {"items": [{"verifier": "math", "completion": f"The answer is $\\frac{{{i}}}{{7}}$",
                        "reference": f"{i}/7"} for i in range(16_384)]}
    done: list[str] = []
    big_result: list[httpx.Response] = []

    def run_big() -> None:
        big_result.append(post(server, batch))
        done.append("big")

    big = threading.Thread(target=run_big)
    big.start()
    deadline = time.monotonic() + 60
    while metric(server, "referee_pending_items") < 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(server, "referee_pending_items") >= 1000, "the big batch never got queued"
    small = post(server, {"items": [{"verifier": "exact", "completion": "now", "reference": "now"}]})
    done.append("small")
    big.join()
    assert done == ["small", "big"]
    assert small.json()["verdicts"][0]["reward"] == 1.0
    verdicts = big_result[0].json()["verdicts"]
    assert len(verdicts) == 16_384 and all(v["status"] == "ok" and v["reward"] == 1.0 for v in verdicts)


def test_large_bodies_are_read_in_slices_with_the_same_rules(server):
    pad = "p" * 200_000  # three of these put the body past the one-pass size
    items = [{"id": i, "verifier": "exact", "completion": pad + str(i), "reference": pad + "1"} for i in range(3)]
    items.insert(1, {"id": "bad", "verifier": "exact", "completion": 5})
    body = orjson.dumps({"timeout_s": 30, "items": items})
    assert len(body) > 512 * 1024
    verdicts = post(server, body).json()["verdicts"]
    assert [v["id"] for v in verdicts] == [0, "bad", 1, 2]
    assert [v["status"] for v in verdicts] == ["ok", "invalid_input", "ok", "ok"]
    assert [v["reward"] for v in verdicts] == [0.0, 0.0, 1.0, 0.0]
    with_nan = body.replace(b'"timeout_s":30', b'"timeout_s":NaN')
    assert post(server, with_nan).status_code == 422  # NaN is not JSON: a 422, large body or small
    assert post(server, body + b" {}").status_code == 400
    assert post(server, orjson.dumps([pad] * 3)).status_code == 422
