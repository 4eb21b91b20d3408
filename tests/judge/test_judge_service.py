"""The judge through the HTTP service: a real `referee serve` configured by a judges file."""

from __future__ import annotations

import httpx
import pytest

from judge_servers import RefereeService, Reply, ScriptedServer, chat_completion, free_port


@pytest.fixture(scope="module")
def service(llama, tmp_path_factory):
    """One `referee serve` with three judges: a scripted one, llama.cpp (real), and one where nothing listens."""
    scripted_judge = ScriptedServer(lambda n, req: Reply(
        200, chat_completion('{"critique": "solid", "score": 8}', prompt_tokens=120, completion_tokens=9)))
    judges = tmp_path_factory.mktemp("judges") / "judges.toml"
    judges.write_text(f'''
[judges.default]
base_url = "{scripted_judge.base_url}"
model = "scripted"

[judges.small]
base_url = "{llama.base_url}"
model = "smollm2"
json_mode = "json_object"

[judges.down]
base_url = "http://127.0.0.1:{free_port()}/v1"
model = "none"
max_retries = 1
backoff_initial_s = 0.05
''')
    svc = RefereeService({"REFEREE_JUDGES": str(judges)}, "--workers", "1")
    try:
        svc.wait_ready()
        yield svc, scripted_judge
    finally:
        svc.stop()
        scripted_judge.stop()


def verify(svc, items, timeout_s=60):
    resp = httpx.post(f"{svc.url}/v1/verify", json={"items": items, "timeout_s": timeout_s}, timeout=120)
    assert resp.status_code == 200, resp.text
    return resp.json()["verdicts"]


def test_judge_items_over_http(service):
    svc, judge = service
    item = {"id": "a", "verifier": "judge", "completion": "Paris.",
            "reference": {"prompt": "Capital of France?"}, "params": {"mode": "rubric"}}
    verdicts = verify(svc, [
        item,
        {**item, "id": "b"},  # the same work: judged once
        {**item, "id": "c", "params": {"judge": "nobody"}},
        {**item, "id": "d", "params": {"judge": "down"}},
        {"id": "e", "verifier": "judge", "completion": "Paris.", "params": {"mode": "reference"}},
    ])
    a, b, c, d, e = verdicts
    assert a["status"] == "ok" and a["reward"] == pytest.approx(7 / 9) and a["verifier"] == "judge@2"
    assert a["details"]["samples"][0]["critique"] == "solid" and a["details"]["usage"]["total_tokens"] == 129
    assert b["id"] == "b" and b["reward"] == a["reward"]
    assert c["status"] == "invalid_input" and "unknown judge 'nobody'" in c["message"]
    assert d["status"] == "error" and "cannot reach" in d["message"]
    assert e["status"] == "invalid_input" and "reference.answer" in e["message"]
    assert len(judge.chat_requests) == 1

    again = verify(svc, [item, {**item, "id": "d", "params": {"judge": "down"}}])
    assert again[0]["cached"] and again[0]["reward"] == a["reward"]
    assert again[1]["status"] == "error"  # failures are not cached: the judge was tried again
    assert len(judge.chat_requests) == 1


def test_real_judge_over_http_and_deadline(service):
    svc, _ = service
    item = {"verifier": "judge", "completion": "Paris.", "reference": {"prompt": "Capital of France?"},
            "params": {"judge": "small", "mode": "principles", "principles": ["Names a city.", "Is polite."],
                       "max_tokens": 200}}
    [v] = verify(svc, [item])
    assert v["status"] == "ok", v["message"]
    assert set(v["components"]) == {"p1", "p2"} and v["reward"] == pytest.approx(sum(v["components"].values()) / 2)
    [late] = verify(svc, [{**item, "completion": "Lyon."}], timeout_s=0.05)
    assert late["status"] == "timeout"


def test_registry_lists_the_judge(service):
    svc, _ = service
    listed = {v["name"]: v for v in httpx.get(f"{svc.url}/v1/verifiers", timeout=10).json()["verifiers"]}
    judge = listed["judge"]
    assert judge["async"] is True
    assert set(judge["params_schema"]["properties"]) >= {"judge", "mode", "principles", "samples", "vote"}


def test_composite_of_a_pool_verifier_and_the_real_judge(service):
    """The scorer splits the composite: `math` runs in a worker, the judge on the server's event
    loop (one judge budget per server), and the two verdicts are combined."""
    svc, _ = service
    judge_part = {"verifier": "judge", "name": "style", "weight": 0.2, "use_item_reference": False,
                  "reference": {"prompt": "What is 6 times 7?"},
                  "params": {"judge": "small", "mode": "principles", "principles": ["Gives a number."],
                             "max_tokens": 200}}
    item = {"verifier": "composite", "completion": "The answer is \\boxed{42}.", "reference": "42",
            "params": {"parts": [{"verifier": "math", "weight": 0.8}, judge_part]}}
    down = {**item, "params": {"parts": [{"verifier": "math", "weight": 0.8},
                                         {**judge_part, "params": {**judge_part["params"], "judge": "down"}}]}}
    both, failed = verify(svc, [item, down])
    assert both["status"] == "ok", both["message"]
    assert both["components"]["math"] == 1.0 and 0.0 <= both["components"]["style"] <= 1.0
    assert both["reward"] == pytest.approx(0.8 + 0.2 * both["components"]["style"])
    assert both["details"]["parts"]["style"]["verifier"].startswith("judge@") and both["verifier"] == "composite@1"
    assert failed["status"] == "error" and "part 'style'" in failed["message"]
