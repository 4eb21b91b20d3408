"""The service through HTTP: a real `referee serve` process, a pip-installed plugin, hostile inputs."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest

from referee_client import AsyncRefereeClient, RefereeClient, RefereeError
from tests.conftest import running_server


def post(url: str, payload: object, **kw) -> httpx.Response:
    return httpx.post(f"{url}/v1/verify", content=orjson.dumps(payload), timeout=120, **kw)


def test_batch_is_scored_in_order_with_ids(server):
    items = [
        {"id": "a", "verifier": "exact", "completion": "Paris", "reference": "paris"},
        {"id": "b", "verifier": "choice", "completion": "The answer is (C).", "reference": "C"},
        {"id": "c", "verifier": "numeric", "completion": "Total: 1,234.5", "reference": "1234.5"},
        {"id": "d", "verifier": "regex", "completion": "2024-01-31", "reference": r"\d{4}-\d{2}-\d{2}"},
        {"id": "e", "verifier": "exact", "completion": "Lyon", "reference": "paris"},
        {"id": 7, "verifier": "exact@1",
         "completion": [{"role": "user", "content": "capital?"}, {"role": "assistant", "content": "paris"}],
         "reference": ["Paris", "Paname"]},
    ]
    verdicts = post(server, {"items": items}).json()["verdicts"]
    assert [v["id"] for v in verdicts] == ["a", "b", "c", "d", "e", 7]
    assert [v["reward"] for v in verdicts] == [1.0, 1.0, 1.0, 1.0, 0.0, 1.0]
    assert all(v["status"] == "ok" for v in verdicts)
    assert verdicts[1]["verifier"] == "choice@2" and verdicts[1]["details"]["source"] == "marker"


def test_composite_reports_components(server):
    item = {"verifier": "composite", "completion": "<think>2+2</think><answer>4</answer>", "reference": "4",
            "params": {"parts": [{"verifier": "numeric", "weight": 0.9, "name": "correctness"},
                                 {"verifier": "format", "weight": 0.1, "use_item_reference": False}]}}
    wrong = item | {"completion": "<think>2+2</think> 5"}
    good, bad = post(server, {"items": [item, wrong]}).json()["verdicts"]
    assert good["reward"] == pytest.approx(1.0) and good["components"] == {"correctness": 1.0, "format": 1.0}
    assert bad["reward"] == 0.0 and bad["components"] == {"correctness": 0.0, "format": 0.0}


def test_identical_work_is_done_once_and_cached_across_batches(server):
    item = {"verifier": "exact", "completion": "cache me", "reference": "cache me", "params": {"whitespace": "remove"}}
    first = post(server, {"items": [item, item | {"id": 2}]}).json()["verdicts"]
    assert [v["cached"] for v in first] == [False, False] and first[1]["id"] == 2
    second = post(server, {"items": [item]}).json()["verdicts"]
    assert second[0]["cached"] is True and second[0]["reward"] == 1.0


def test_bad_items_get_verdicts_and_the_rest_is_scored(server):
    items = [
        {"verifier": "no-such-verifier", "completion": "x"},
        {"verifier": "exact", "completion": "x", "reference": "x", "params": {"case_sensitive": "perhaps"}},
        {"verifier": "exact", "completion": 12345},
        {"verifier": "numeric", "completion": "3", "reference": "three"},
        {"verifier": "exact", "completion": [{"role": "user", "content": "only a question"}]},
        "not even an object",
        {"verifier": "exact", "completion": "ok", "reference": "ok"},
    ]
    verdicts = post(server, {"items": items}).json()["verdicts"]
    assert [v["status"] for v in verdicts] == ["invalid_input"] * 6 + ["ok"]
    assert "unknown verifier" in verdicts[0]["message"]
    assert "case_sensitive" in verdicts[1]["message"]
    assert "completion" in verdicts[2]["message"]
    assert "not a number" in verdicts[3]["message"]
    assert "assistant" in verdicts[4]["message"]
    assert verdicts[6]["reward"] == 1.0


def test_malformed_requests_get_4xx(server):
    assert httpx.post(f"{server}/v1/verify", content=b"{not json").status_code == 400
    assert httpx.post(f"{server}/v1/verify", content=b"\xff\xfe{}").status_code == 400
    assert post(server, {"things": []}).status_code == 422
    assert post(server, [1, 2]).status_code == 422
    r = post(server, {"items": [], "timeout_s": -1})
    assert r.status_code == 422 and "timeout_s" in r.json()["detail"]
    r = post(server, {"items": [], "timeout_s": 10_000})
    assert r.status_code == 422 and "max_timeout_s" in r.json()["detail"]


def test_limits_name_themselves(server):
    many = {"items": [{"verifier": "exact", "completion": "a", "reference": "a"}] * 50_000}
    r = post(server, many)
    assert r.status_code == 413 and "max_items_per_request" in r.json()["detail"]
    huge = "x" * 10_000_000
    verdicts = post(server, {"items": [{"verifier": "exact", "completion": huge, "reference": "x"},
                                       {"verifier": "exact", "completion": "x", "reference": "x"}]}).json()["verdicts"]
    assert verdicts[0]["status"] == "invalid_input" and "max_completion_chars" in verdicts[0]["message"]
    assert verdicts[1]["reward"] == 1.0
    r = httpx.post(f"{server}/v1/verify", content=b" " * (65 * 2**20), timeout=60)
    assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]


def test_control_characters_and_unicode(server):
    weird = "caf\u00e9\x00\x01\x1b[31m\u202e\ufeff"
    verdicts = post(server, {"items": [{"verifier": "exact", "completion": weird, "reference": weird},
                                       {"verifier": "regex", "completion": "\x00", "reference": "\\x00"}]}).json()
    assert [v["reward"] for v in verdicts["verdicts"]] == [1.0, 1.0]


def test_hostile_verifiers_are_contained(server):
    items = [
        {"id": "loop", "verifier": "demo:loop", "completion": "x"},
        {"id": "sleep", "verifier": "demo:sleep", "completion": "x"},
        {"id": "exit", "verifier": "demo:exit", "completion": "x"},
        {"id": "segv", "verifier": "demo:segfault", "completion": "x"},
        {"id": "raise", "verifier": "demo:raise", "completion": "x"},
    ] + [{"id": i, "verifier": "demo:word_count", "completion": "a b c", "params": {"max_words": i}} for i in range(6)]
    started = time.monotonic()
    verdicts = post(server, {"items": items, "timeout_s": 1.0}).json()["verdicts"]
    elapsed = time.monotonic() - started
    by_id = {v["id"]: v for v in verdicts}
    assert by_id["loop"]["status"] == "timeout" and by_id["sleep"]["status"] == "timeout"
    assert by_id["exit"]["status"] == "error" and "exit code 3" in by_id["exit"]["message"]
    assert by_id["segv"]["status"] == "error" and "signal 11" in by_id["segv"]["message"]
    assert by_id["raise"]["status"] == "error" and "scorer bug" in by_id["raise"]["message"]
    # Filling the worker's address-space limit takes a few seconds: give it a longer deadline.
    hog = post(server, {"items": [{"verifier": "demo:memory", "completion": "x"}], "timeout_s": 60}).json()
    assert hog["verdicts"][0]["status"] == "error" and "MemoryError" in hog["verdicts"][0]["message"]
    assert [by_id[i]["reward"] for i in range(6)] == [0, 0, 0, 1, 1, 1]
    assert elapsed < 60  # bounded: the two overruns cost about their deadline each, never an hour
    assert httpx.get(f"{server}/healthz").status_code == 200
    after = post(server, {"items": [{"verifier": "exact", "completion": "a", "reference": "a"}]}).json()
    assert after["verdicts"][0]["reward"] == 1.0
    metrics = httpx.get(f"{server}/metrics").text
    assert 'referee_timeouts_total{verifier="demo:loop@1"} 1.0' in metrics
    assert 'referee_worker_restarts{reason="crash"}' in metrics


def test_plugins_from_env_var_and_entry_point(server):
    names = {v["spec"] for v in httpx.get(f"{server}/v1/verifiers").json()["verifiers"]}
    assert {"envplugin:shouts@1", "demo:word_count@1", "exact@1", "composite@1"} <= names
    described = {v["name"]: v for v in httpx.get(f"{server}/v1/verifiers").json()["verifiers"]}
    assert described["demo:word_count"]["params_schema"]["properties"]["max_words"]["default"] == 10
    verdict = post(server, {"items": [{"verifier": "envplugin:shouts", "completion": "HELLO"}]}).json()["verdicts"][0]
    assert verdict["reward"] == 1.0


def test_operations_endpoints(server):
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server}/readyz").json() == {"ready": True}
    assert httpx.get(f"{server}/docs").status_code == 200
    spec = httpx.get(f"{server}/openapi.json").json()
    assert "/v1/verify" in spec["paths"] and "/v1/verifiers" in spec["paths"]
    metrics = httpx.get(f"{server}/metrics").text
    for name in ("referee_requests_total", "referee_items_total", "referee_verify_seconds_bucket",
                 "referee_cache_hits_total", "referee_errors_total"):
        assert name in metrics


def test_client_splits_large_lists_and_keeps_order(server):
    items = [{"id": i, "verifier": "exact", "completion": str(i % 7), "reference": "3"} for i in range(50_000)]
    with RefereeClient(server, batch_size=8192) as client:
        verdicts = client.verify(items)
    assert [v.id for v in verdicts] == list(range(50_000))
    assert sum(v.reward for v in verdicts) == len([i for i in range(50_000) if i % 7 == 3])


def test_async_client(server):
    async def main():
        async with AsyncRefereeClient(server, batch_size=10, max_concurrency=3) as client:
            items = [{"id": i, "verifier": "numeric", "completion": f"{i}/2", "reference": str(i / 2)} for i in range(95)]
            verdicts = await client.verify(items)
            one = await client.verify_one("exact", "hi", "hi")
            return verdicts, one
    verdicts, one = asyncio.run(main())
    assert [v.id for v in verdicts] == list(range(95)) and all(v.reward == 1.0 for v in verdicts)
    assert one.reward == 1.0


def test_client_retries_until_the_server_is_up(demo_plugin):
    from tests.conftest import free_port
    import subprocess, sys, os
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    client = RefereeClient(url, max_retries=12, backoff_s=0.5)
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", "1",
                             "--log-level", "warning"])
    try:
        verdict = client.verify_one("exact", "a", "a")  # connection refused at first, then served
        assert verdict.reward == 1.0
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)
    with pytest.raises(RefereeError, match="gave up"):
        RefereeClient(url, max_retries=1, backoff_s=0.01).verify_one("exact", "a", "a")


def test_bearer_auth(demo_plugin):
    with running_server("--workers", "1", env={"REFEREE_API_KEYS": "k1,k2"}) as url:
        item = {"items": [{"verifier": "exact", "completion": "a", "reference": "a"}]}
        assert post(url, item).status_code == 401
        assert post(url, item, headers={"authorization": "Bearer nope"}).status_code == 401
        assert post(url, item, headers={"authorization": "Bearer k2"}).status_code == 200
        assert httpx.get(f"{url}/healthz").status_code == 200
        with RefereeClient(url, api_key="k1") as client:
            assert client.verify_one("exact", "a", "a").reward == 1.0
        with pytest.raises(RefereeError, match="401"):
            RefereeClient(url).verify_one("exact", "a", "a")
