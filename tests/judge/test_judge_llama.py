"""The judge against a real OpenAI-compatible server: llama.cpp serving SmolLM2-135M-Instruct.

A 135M model's opinions are not worth asserting on; these tests check the mechanics: the request
that went out, structured output that parses, the arithmetic from verdicts to reward, the voting,
the position swap, the cache and the token accounting."""

from __future__ import annotations

from statistics import fmean

import pytest

from judge_helpers import judge_config, score
from judge_servers import forward_to
from verifiers.judge import JudgeVerifier

TASK = {"prompt": "What is the capital of France? Answer in one word."}
SHORT = {"max_tokens": 200}


@pytest.fixture
def proxied(llama, scripted):
    """A recording pass-through in front of llama.cpp, and a judge pointing at it."""
    forward = forward_to(llama.base_url)
    server = scripted(lambda n, req: forward(req))
    # llama-cpp-python takes a schema in json_object mode (it rejects json_schema; see the rubric test)
    return server, JudgeVerifier({"default": judge_config(server.base_url, json_mode="json_object")})


def user_message(request) -> str:
    return request.body["messages"][-1]["content"]


def test_rubric_scores_on_the_declared_scale(llama, scripted):
    forward = forward_to(llama.base_url)
    server = scripted(lambda n, req: forward(req))
    verifier = JudgeVerifier({"default": judge_config(server.base_url)})  # json_mode auto
    v = score(verifier, "Paris.", TASK, {"mode": "rubric", "scale_min": 1, "scale_max": 5, **SHORT})
    assert v.status == "ok", v.message
    raw = v.details["samples"][0]["verdict"]
    assert raw in {1, 2, 3, 4, 5}
    assert v.reward == pytest.approx((raw - 1) / 4) and v.details["score"] == raw
    assert v.details["usage"]["prompt_tokens"] > 0 and v.details["usage"]["completion_tokens"] > 0
    # llama-cpp-python rejects response_format json_schema; the judge steps down to json_object + schema
    sent = [r.body for r in server.chat_requests]
    assert [b["response_format"]["type"] for b in sent] == ["json_schema", "json_object"]
    assert sent[1]["response_format"]["schema"]["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
    assert v.details["json_mode"] == "json_object" and sent[1]["temperature"] == 0.0
    assert "<response>\nParis.\n</response>" in user_message(server.chat_requests[1])
    again = score(verifier, "Paris, France.", TASK, {"mode": "rubric", **SHORT})
    assert again.status == "ok" and server.chat_requests[-1].body["response_format"]["type"] == "json_object"


def test_principles_reward_is_the_weighted_share(proxied):
    server, verifier = proxied
    principles = [{"text": "The response names a city.", "weight": 3, "name": "city"},
                  {"text": "The response is written in French."},
                  "The response is at most ten words long."]
    v = score(verifier, "Paris.", TASK, {"mode": "principles", "principles": principles, **SHORT})
    assert v.status == "ok", v.message
    assert set(v.components) == {"city", "p2", "p3"} and set(v.components.values()) <= {0.0, 1.0}
    weights = {"city": 3, "p2": 1, "p3": 1}
    assert v.reward == pytest.approx(sum(weights[k] * s for k, s in v.components.items()) / 5)
    assert "1. The response names a city." in user_message(server.chat_requests[0])


def test_reference_mode_asks_about_equivalence(proxied):
    server, verifier = proxied
    v = score(verifier, "The capital is Paris.", {**TASK, "answer": "Paris"}, {"mode": "reference", **SHORT})
    assert v.status == "ok", v.message
    assert v.reward in (0.0, 1.0) and v.details["equivalent_votes"] == v.reward
    assert "<reference>\nParis\n</reference>" in user_message(server.chat_requests[0])


def test_pairwise_asks_twice_with_positions_swapped(proxied):
    server, verifier = proxied
    v = score(verifier, "Paris.", {**TASK, "other": "Lyon."}, {"mode": "pairwise", **SHORT})
    assert v.status == "ok", v.message
    # The two orders are asked at once: the server may see either first.
    asked = sorted((user_message(r) for r in server.chat_requests), key=lambda m: "<response_A>\nParis." not in m)
    first, second = asked
    assert "<response_A>\nParis.\n</response_A>" in first and "<response_B>\nLyon.\n</response_B>" in first
    assert "<response_A>\nLyon.\n</response_A>" in second and "<response_B>\nParis.\n</response_B>" in second
    verdict = v.details["samples"][0]["verdict"]
    as_first = {"A": 1.0, "B": 0.0, "tie": 0.5}[verdict["winner_completion_first"]]
    as_second = {"B": 1.0, "A": 0.0, "tie": 0.5}[verdict["winner_completion_second"]]
    assert verdict["consistent"] == (as_first == as_second)
    assert v.reward == (as_first if as_first == as_second else 0.5)  # disagreement between orders is a tie
    assert v.details["position_inconsistent"] == (0 if verdict["consistent"] else 1)


@pytest.mark.parametrize("vote", ["mean", "majority"])
def test_k_sample_voting(proxied, vote):
    server, verifier = proxied
    params = {"mode": "rubric", "samples": 3, "vote": vote, **SHORT}
    v = score(verifier, "Paris.", TASK, params)
    assert v.status == "ok", v.message
    sent = server.chat_requests
    assert sorted(r.body["seed"] for r in sent) == [0, 1, 2]
    assert {r.body["temperature"] for r in sent} == {0.7}  # sampling temperature for k > 1
    scores = [s["verdict"] for s in v.details["samples"] if "verdict" in s]
    assert len(scores) == v.details["valid_samples"] >= 2
    if vote == "mean":
        expected = fmean(scores)
    else:
        top = max(scores.count(s) for s in scores)
        expected = fmean(sorted({s for s in scores if scores.count(s) == top}))
    assert v.reward == pytest.approx((expected - 1) / 9)


def test_repeat_is_served_from_the_cache(proxied):
    server, verifier = proxied
    params = {"mode": "rubric", **SHORT}
    first = score(verifier, "Paris!", TASK, params)
    again = score(verifier, "Paris!", TASK, params)
    assert first.status == again.status == "ok"
    assert len(server.chat_requests) == 1
    assert again.cached and again.details["cache_hits"] == 1 and again.reward == first.reward
    assert not first.cached


def test_chat_completion_with_reasoning_is_judged_on_its_answer(proxied):
    server, verifier = proxied
    completion = [{"role": "user", "content": "Capital of France?"},
                  {"role": "assistant", "content": "<think>Lyon? No, it is Paris.</think>Paris."}]
    v = score(verifier, completion, TASK, {"mode": "rubric", **SHORT})
    assert v.status == "ok", v.message
    text = user_message(server.chat_requests[0])
    assert "<response>\nParis.\n</response>" in text and "Lyon" not in text


def test_tight_deadline_against_the_real_server(llama):
    verifier = JudgeVerifier({"default": judge_config(llama.base_url)})
    v = score(verifier, "Paris " * 200, TASK, {"mode": "rubric", "max_tokens": 64}, timeout_s=0.05)
    assert v.status == "timeout" and v.reward == 0.0
