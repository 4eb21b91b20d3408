"""The `grm` verifier against a real GRM server (tiny trained model, real uvicorn on loopback)."""

from __future__ import annotations

import asyncio
import http.server
import random
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from grm_helpers import free_port, sample_task, serve_in_thread

import verifiers
from server.grm.app import create_grm_app
from server.grm.settings import GRMSettings
from verifiers.contract import Item, Status, Verdict
from verifiers.grm import GRMVerifier, configured_servers
from verifiers.registry import Registry
from verifiers.runtime import arun_task
from verifiers.runtime.prepare import prepare


@pytest.fixture(scope="module")
def grm_url(tiny_grader) -> Iterator[str]:
    app = create_grm_app(GRMSettings(max_batch=8, max_wait_ms=5, default_new_tokens=12), model=tiny_grader)
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def slow_grm_url(tiny_grader) -> Iterator[str]:
    """A server whose batches wait 3 s for company: a lone request cannot be answered sooner."""
    app = create_grm_app(GRMSettings(max_batch=8, max_wait_ms=3000, default_new_tokens=12), model=tiny_grader)
    with serve_in_thread(app) as url:
        yield url


def task(good: bool, seed: int = 0):
    return sample_task(random.Random(seed), good)


def score(items: list[dict], registry: Registry, timeout_s: float = 60.0) -> list[Verdict]:
    """Score the way the service does: validate, then run the async verifier on the event loop."""

    async def run() -> list[Verdict]:
        async def one(raw: dict) -> Verdict:
            prepared = prepare(Item(**raw), registry, timeout_s)
            if isinstance(prepared, Verdict):
                return prepared
            return await arun_task(prepared, registry)

        return list(await asyncio.gather(*(one(raw) for raw in items)))

    return asyncio.run(run())


def registry_for(**servers: str) -> Registry:
    return Registry([GRMVerifier(servers=servers)])


def test_rewards_critique_and_raw_score(grm_url):
    reg = registry_for(default=grm_url)
    good, bad = task(True, 1), task(False, 2)
    verdicts = score([
        {"verifier": "grm", "completion": good.response, "reference": good.prompt},
        {"verifier": "grm", "completion": [{"role": "user", "content": bad.prompt},
                                           {"role": "assistant", "content": bad.response}],
         "reference": {"prompt": bad.prompt, "reference": "x", "principles": ["Be exact"]},
         "params": {"principles": ["Be brief"], "max_new_tokens": 12}},
    ], reg)
    v_good, v_bad = verdicts
    assert v_good.status == Status.ok and v_good.reward == pytest.approx(8 / 9) and v_good.verifier == "grm@1"
    assert v_good.details["critique"] == "Correct.\nScore: 9/10" and v_good.details["score"] == 9
    assert v_good.details["score_source"] == "text" and v_good.details["server"] == "default"
    assert v_bad.status == Status.ok and v_bad.reward == pytest.approx(1 / 9) and v_bad.details["score"] == 2


def test_only_the_text_after_reasoning_is_graded(grm_url):
    reg = registry_for(default=grm_url)
    t = task(True, 5)
    completion = f"<think>maybe it is wrong, let me check</think>{t.response}"
    bare, after, whole = score([
        {"verifier": "grm", "completion": t.response, "reference": t.prompt},
        {"verifier": "grm", "completion": completion, "reference": t.prompt},
        {"verifier": "grm", "completion": completion, "reference": t.prompt, "params": {"after_reasoning": False}},
    ], reg)
    assert after.details == bare.details  # the model saw exactly the bare response
    assert whole.details["prompt_tokens"] > bare.details["prompt_tokens"]


def test_fallback_scores_carry_their_probabilities(grm_url):
    reg = registry_for(default=grm_url)
    t = task(False, 7)
    (v,) = score([{"verifier": "grm", "completion": t.response, "reference": t.prompt,
                   "params": {"max_new_tokens": 2}}], reg)
    assert v.status == Status.ok and v.details["score_source"] == "expected_value"
    assert sum(v.details["score_probs"].values()) == pytest.approx(1.0, abs=1e-4)
    assert v.reward == pytest.approx((v.details["score"] - 1) / 9)


def test_sampled_critiques_vote(grm_url):
    reg = registry_for(default=grm_url)
    t = task(False, 6)
    (v,) = score([{"verifier": "grm", "completion": t.response, "reference": t.prompt,
                   "params": {"samples": 3, "temperature": 0.7}}], reg)
    assert v.status == Status.ok and len(v.details["sample_scores"]) == 3
    assert v.details["score"] == pytest.approx(sum(v.details["sample_scores"]) / 3)
    assert v.reward == pytest.approx((v.details["score"] - 1) / 9)


def test_named_servers_and_environment(grm_url, monkeypatch):
    monkeypatch.setenv("REFEREE_GRM_SERVERS", f'{{"tiny": {{"url": "{grm_url}/"}}}}')
    monkeypatch.setenv("REFEREE_GRM_URL", grm_url)
    assert set(configured_servers()) == {"tiny", "default"}
    reg = Registry([GRMVerifier()])
    t = task(True, 8)
    named, default, unknown = score([
        {"verifier": "grm", "completion": t.response, "reference": t.prompt, "params": {"server": "tiny"}},
        {"verifier": "grm", "completion": t.response, "reference": t.prompt},
        {"verifier": "grm", "completion": t.response, "reference": t.prompt, "params": {"server": "nope"}},
    ], reg)
    assert named.reward == default.reward == pytest.approx(8 / 9)
    assert unknown.status == Status.invalid_input and "no GRM server named 'nope'" in unknown.message
    monkeypatch.setenv("REFEREE_GRM_SERVERS", "[1, 2]")
    (broken,) = score([{"verifier": "grm", "completion": "x", "reference": "p"}], reg)
    assert broken.status == Status.error and "REFEREE_GRM_SERVERS" in broken.message


def test_sync_python_api(grm_url, monkeypatch):
    monkeypatch.setenv("REFEREE_GRM_URL", grm_url)
    t = task(True, 9)
    v = verifiers.verify("grm", completion=t.response, reference=t.prompt, registry=Registry([GRMVerifier()]))
    assert v.status == Status.ok and v.reward == pytest.approx(8 / 9)


def test_through_the_referee_service(grm_url, monkeypatch):
    from server.app import create_app
    from server.settings import Settings

    monkeypatch.setenv("REFEREE_GRM_URL", grm_url)
    t = task(False, 10)
    with TestClient(create_app(Settings(workers=1))) as client:
        body = {"items": [{"id": "a", "verifier": "grm", "completion": t.response, "reference": t.prompt},
                          {"id": "b", "verifier": "grm", "completion": "x", "reference": 42}]}
        r = client.post("/v1/verify", json=body)
    assert r.status_code == 200, r.text
    ok, bad = r.json()["verdicts"]
    assert ok["status"] == "ok" and ok["reward"] == pytest.approx(1 / 9) and ok["details"]["score"] == 2
    assert bad["status"] == "invalid_input" and "reference" in bad["message"]


def test_server_down_is_an_error_with_the_reason():
    reg = registry_for(default=f"http://127.0.0.1:{free_port()}")
    (v,) = score([{"verifier": "grm", "completion": "x", "reference": "p"}], reg, timeout_s=5)
    assert v.status == Status.error and "unreachable" in v.message and v.reward == 0.0


def test_no_server_configured(monkeypatch):
    monkeypatch.delenv("REFEREE_GRM_URL", raising=False)
    monkeypatch.delenv("REFEREE_GRM_SERVERS", raising=False)
    (v,) = score([{"verifier": "grm", "completion": "x", "reference": "p"}], Registry([GRMVerifier()]))
    assert v.status == Status.error and "REFEREE_GRM_URL" in v.message


def test_slow_server_is_a_timeout(slow_grm_url):
    reg = registry_for(default=slow_grm_url)
    (v,) = score([{"verifier": "grm", "completion": "x", "reference": "p"}], reg, timeout_s=0.5)
    assert v.status == Status.timeout and "did not answer" in v.message


@pytest.fixture
def garbage_url() -> Iterator[str]:
    """A real HTTP server that answers every POST with 200 and something that is not a GRM result."""

    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = b'{"results": [{"critique": "hm"}]}' if self.path == "/v1/grm/score" else b"<html>"
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_garbage_answers_are_errors(garbage_url):
    reg = registry_for(default=garbage_url, html=garbage_url + "/elsewhere")
    no_score, html = score([
        {"verifier": "grm", "completion": "x", "reference": "p"},
        {"verifier": "grm", "completion": "x", "reference": "p", "params": {"server": "html"}},
    ], reg)
    assert no_score.status == Status.error and "returned no score" in no_score.message
    assert html.status == Status.error and "malformed" in html.message


def test_item_level_server_errors_keep_their_meaning(tiny_grader):
    app = create_grm_app(GRMSettings(max_input_chars=100, max_new_tokens=16, default_new_tokens=12), model=tiny_grader)
    with serve_in_thread(app) as url:
        reg = registry_for(default=url)
        long, over = score([
            {"verifier": "grm", "completion": "x" * 200, "reference": "p"},
            {"verifier": "grm", "completion": "x", "reference": "p", "params": {"max_new_tokens": 17}},
        ], reg)
    assert long.status == Status.invalid_input and "max_input_chars=100" in long.message
    assert over.status == Status.invalid_input and "HTTP 422" in over.message and "limit 16" in over.message


@pytest.mark.parametrize("reference, params, words", [
    (None, {}, "reference must be the prompt"),
    ({"response": "x"}, {}, "prompt"),
    ("p", {"scale_min": 3, "scale_max": 3}, "scale_max must be above scale_min"),
    ("p", {"url": "http://elsewhere"}, "url"),  # no URLs in requests
])
def test_bad_items_are_invalid_input(reference, params, words):
    (v,) = score([{"verifier": "grm", "completion": "x", "reference": reference, "params": params}],
                 registry_for(default="http://127.0.0.1:9"))
    assert v.status == Status.invalid_input and words in v.message
