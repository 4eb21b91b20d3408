"""The `math` verifier through the worker pool and the HTTP service: same verdicts as in-process."""

from __future__ import annotations

import httpx
import orjson

from verifiers.math_verifier import verify_batch
from verifiers.runtime import LocalScorer

ITEMS = [
    ("The answer is $\\boxed{\\frac{\\pi}{2}}$", "pi/2"),
    ("<think>so 3?</think> Final Answer: The final answer is $14 - i$. I hope it is correct.", "14.0 + -1.0i"),
    ("$\\boxed{1+\\frac{1}{e}}$", "1-\\frac{1}{e}"),
    ("$\\boxed{3x+4y+14=0}$", "3x-y+13=0"),
    ("$\\boxed{y=-\\frac{1}{2}x+\\frac{3}{4}}$", "2x+4y-3=0"),
    ("$\\boxed{9^{9^{9^{9}}}}$", "1"),
    ("$\\boxed{100000000!}$", "5"),
    ("$\\boxed{" + "(" * 3000 + "1" + ")" * 3000 + "}$", "1"),
    ("$\\boxed{(x+1)^2}$", "x^2+2x+1"),
    ("no answer here", "3"),
]


def _items() -> list[dict]:
    return [{"id": i, "verifier": "math", "completion": c, "reference": r} for i, (c, r) in enumerate(ITEMS)]


def test_pool_gives_the_in_process_verdicts():
    expected = verify_batch([c for c, _ in ITEMS], [r for _, r in ITEMS])
    with LocalScorer(workers=2, timeout_s=10) as scorer:
        pooled = scorer.score(_items())
    assert [(v.reward, v.status) for v in pooled] == [(v.reward, v.status) for v in expected]
    assert [v.reward for v in expected] == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def test_http_gives_the_in_process_verdicts(server):
    expected = verify_batch([c for c, _ in ITEMS], [r for _, r in ITEMS])
    body = orjson.dumps({"items": _items()})
    verdicts = httpx.post(f"{server}/v1/verify", content=body, timeout=120).json()["verdicts"]
    assert [(v["reward"], v["status"]) for v in verdicts] == [(v.reward, v.status.value) for v in expected]
    assert verdicts[5]["details"]["method"] == "too_costly"
    assert verdicts[9]["status"] == "wrong_format"


def test_math_is_listed_with_its_params_schema(server):
    listing = httpx.get(f"{server}/v1/verifiers", timeout=30).json()
    entries = listing["verifiers"] if isinstance(listing, dict) else listing
    math = next(e for e in entries if e["name"] == "math")
    assert "tolerance" in str(math)


def test_slow_symbolic_fallback_is_cut_at_the_deadline_as_timeout():
    # sympy needs seconds to evaluate this integral; the item deadline is one second.
    slow = {"id": "slow", "verifier": "math", "reference": "\\frac{\\pi \\ln 2}{8}",
            "completion": "$\\boxed{\\int_0^1 \\frac{\\ln(1+x)}{1+x^2} dx}$"}
    quick = {"id": "quick", "verifier": "math", "reference": "2", "completion": "$\\boxed{2}$"}
    with LocalScorer(workers=2, timeout_s=1.0) as scorer:
        verdicts = scorer.score([slow, quick])
    by_id = {v.id: v for v in verdicts}
    assert by_id["slow"].status.value == "timeout" and by_id["slow"].reward == 0.0
    assert by_id["quick"].status.value == "ok" and by_id["quick"].reward == 1.0
