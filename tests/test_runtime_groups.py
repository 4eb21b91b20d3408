"""Group rewards through HTTP: statistics per group, majority-vote references, and the integrity
of a code reward when the item's deadline cuts its tests short."""

from __future__ import annotations

import math

import httpx
import orjson
import pytest

from verifiers.runtime.groups import pass_at_k


def verify(url: str, items: list[dict], **extra) -> dict:
    response = httpx.post(f"{url}/v1/verify", content=orjson.dumps({"items": items, **extra}), timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def test_group_statistics_match_a_hand_computation(server):
    rewards_a = [1, 0, 1, 0, 0]  # group "a": 2 of 5 pass
    items = [{"verifier": "exact", "completion": "yes" if r else f"no {i}", "reference": "yes", "group": "a"}
             for i, r in enumerate(rewards_a)]
    items += [{"verifier": "exact", "completion": f"wrong {i}", "reference": "yes", "group": "b"} for i in range(3)]
    items += [{"verifier": "exact", "completion": "yes", "reference": "yes", "group": 7},
              {"verifier": "no-such-verifier", "completion": "x", "group": 7},
              {"verifier": "exact", "completion": "alone", "reference": "alone"}]
    body = verify(server, items)
    groups = body["groups"]
    assert set(groups) == {"a", "b", "7"}
    a = groups["a"]
    # mean 2/5; population std sqrt((2*(0.6)^2 + 3*(0.4)^2) / 5) = sqrt(0.24)
    assert a["n"] == 5 and a["masked"] == 0 and a["passed"] == 2
    assert a["mean"] == pytest.approx(0.4) and a["std"] == pytest.approx(math.sqrt(0.24))
    # pass@k = 1 - C(3,k)/C(5,k): k=1: 1-3/5; k=2: 1-3/10; k=4: C(3,4)=0 -> 1; k=5 -> 1
    assert a["pass_at_k"] == pytest.approx({"1": 0.4, "2": 0.7, "4": 1.0, "5": 1.0})
    assert a["all_equal"] is False
    b = groups["b"]
    assert b["n"] == 3 and b["mean"] == 0.0 and b["std"] == 0.0 and b["all_equal"] is True
    assert b["pass_at_k"] == {"1": 0.0, "2": 0.0, "3": 0.0}
    assert groups["7"]["n"] == 1 and groups["7"]["masked"] == 1 and groups["7"]["all_equal"] is True
    without = verify(server, [{"verifier": "exact", "completion": "a", "reference": "a"}])
    assert "groups" not in without


def test_pass_at_k_is_the_unbiased_estimator():
    assert pass_at_k(10, 0, 3) == 0.0 and pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - math.comb(7, 5) / math.comb(10, 5))
    assert pass_at_k(200, 13, 100) == pytest.approx(1 - math.comb(187, 100) / math.comb(200, 100))
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_majority_vote_groups_equivalent_answers(server):
    answers = ["\\boxed{1/2}", "so it is $0.5$. Final answer: \\boxed{0.5}", "\\boxed{\\frac{1}{2}}",
               "\\boxed{3}", "\\boxed{3}", "I am not sure."]
    majority = {"reference_from_group": "majority"}
    items = [{"id": i, "verifier": "math", "completion": text, "reference": None, "group": "q1", "params": majority}
             for i, text in enumerate(answers)]
    items += [{"id": "other", "verifier": "math", "completion": "\\boxed{3}", "group": "q2", "params": majority},
              {"id": "no-group", "verifier": "math", "completion": "\\boxed{3}", "params": majority},
              {"id": "has-ref", "verifier": "math", "completion": "\\boxed{3}", "reference": "3", "group": "q3",
               "params": majority},
              {"id": "no-vote", "verifier": "exact", "completion": "3", "group": "q4", "params": majority}]
    body = verify(server, items)
    by_id = {v["id"]: v for v in body["verdicts"]}
    assert [by_id[i]["reward"] for i in range(5)] == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert by_id[5]["status"] == "wrong_format"
    vote = by_id[0]["details"]["majority"]
    assert vote["answer"] == "1/2" and vote["voters"] == 5 and vote["abstained"] == 1 and vote["tie"] is False
    assert [(v["answer"], v["count"]) for v in vote["votes"]] == [("1/2", 3), ("3", 2)]
    assert set(vote["votes"][0]["spellings"]) == {"1/2", "0.5", "\\frac{1}{2}"}
    assert by_id["other"]["reward"] == 1.0 and by_id["other"]["details"]["majority"]["answer"] == "3"
    assert by_id["no-group"]["status"] == "invalid_input" and "group" in by_id["no-group"]["message"]
    assert by_id["has-ref"]["status"] == "invalid_input" and "reference: null" in by_id["has-ref"]["message"]
    assert by_id["no-vote"]["status"] == "invalid_input"
    assert body["groups"]["q1"]["n"] == 6 and body["groups"]["q1"]["mean"] == pytest.approx(0.5)  # wrong_format is a 0


def test_majority_vote_of_a_group_without_answers(server):
    items = [{"verifier": "math", "completion": "no idea", "group": "g", "params": {"reference_from_group": "majority"}}
             for _ in range(3)]
    verdicts = verify(server, items)["verdicts"]
    assert [v["status"] for v in verdicts] == ["wrong_format"] * 3
    assert "no completion in the group has an answer" in verdicts[0]["message"]


def test_code_tests_cut_by_the_deadline_make_a_timeout_not_a_lower_reward(server):
    program = "```python\nimport time\ntime.sleep(0.7)\na, b = map(int, input().split())\nprint(a + b)\n```"
    tests = [{"stdin": f"{k} {k}", "stdout": str(2 * k)} for k in range(6)]
    item = {"verifier": "code", "completion": program, "reference": {"tests": tests}}
    (cut,) = verify(server, [item], timeout_s=2.0)["verdicts"]
    assert cut["status"] == "timeout" and cut["reward"] == 0.0, cut
    assert "deadline cut the tests short" in cut["message"]
    assert cut["details"]["total"] == 6 and cut["details"]["tests"]
    (full,) = verify(server, [item], timeout_s=30.0)["verdicts"]
    assert full["status"] == "ok" and full["reward"] == 1.0
