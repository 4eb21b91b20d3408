"""Reading verdicts out of judge replies, including the hostile and sloppy ones."""

from __future__ import annotations

import pytest

from verifiers.judge.backpressure import CircuitBreaker, TokenBucket
from verifiers.judge.parsing import (find_json_object, parse_equivalent, parse_principle_verdicts, parse_score,
                                     parse_winner)


@pytest.mark.parametrize("text, expected", [
    ('{"critique": "fine", "score": 7}', 7),
    ('```json\n{"score": "9"}\n```', 9),
    ('Here you go: {"Score": 3.5} hope it helps', 3.5),
    ("<think>score 2? maybe score 9</think>Score: 6/10", 6),
    ("Rating: [[8]]", 8),
    ("The final score is \\boxed{4}.", 4),
    ("I'd give it 7 out of 10.", 7),
    ("5", 5),
    ('{"score": 11}', None),  # off the scale
    ('{"score": "high"}', None),
    ("The response is great.", None),
    ("", None),
    ('{"score": 7', 7),  # truncated JSON, but the phrasing still says it
    ("{" * 5000 + "nothing", None),
])
def test_parse_score(text, expected):
    assert parse_score(text, 1, 10) == expected


def test_json_object_prefers_the_last_with_the_key():
    text = 'Example: {"score": 1}. My verdict: {"critique": "ok", "score": 9}'
    assert find_json_object(text, "score")["score"] == 9
    assert find_json_object('{"a": 1}', "score") is None


@pytest.mark.parametrize("text, n, expected", [
    ('{"verdicts": ["yes", "no", "YES"]}', 3, [True, False, True]),
    ('{"verdicts": [true, false]}', 2, [True, False]),
    ('{"verdicts": {"1": "pass", "2": "fail"}}', 2, [True, False]),
    ('{"verdicts": [{"principle": 1, "satisfied": "no"}]}', 1, [False]),
    ('{"verdicts": ["yes"]}', 2, None),  # one missing
    ('{"verdicts": ["yes", "maybe"]}', 2, None),
    ("1. Polite: yes\n2. Free of profanity (no slurs): NO\n", 2, [True, False]),
    ("Principle 1 - yes\nPrinciple 3 - no", 3, None),
])
def test_parse_principles(text, n, expected):
    assert parse_principle_verdicts(text, n) == expected


@pytest.mark.parametrize("text, expected", [
    ('{"critique": "same value", "equivalent": "yes"}', True),
    ('{"equivalent": false}', False),
    ("[[NO]]", False),
    ("Equivalent: yes", True),
    ("The answers differ.\nNO", False),
    ("They might be equivalent, hard to say", None),
])
def test_parse_equivalent(text, expected):
    assert parse_equivalent(text) == expected


@pytest.mark.parametrize("text, expected", [
    ('{"winner": "A"}', "A"),
    ('{"winner": "Response B"}', "B"),
    ('{"winner": "tie"}', "tie"),
    ("[[C]]", "tie"),
    ("Final verdict: [[B]]", "B"),
    ("Winner: A", "A"),
    ("Response B is better because it is correct.", "B"),
    ("the winner is a tie", None),  # 'a' is an article here, not response A
    ("Both are fine.", None),
    ('{"winner": "C++"}', None),
])
def test_parse_winner(text, expected):
    assert parse_winner(text) == expected


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_queues_in_order_and_refills():
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=2, clock=clock)
    assert [bucket.reserve(), bucket.reserve()] == [0.0, 0.0]  # the burst
    assert bucket.reserve() == pytest.approx(0.5)  # then one token per 0.5 s, in arrival order
    assert bucket.reserve() == pytest.approx(1.0)
    assert bucket.reserve(max_wait=1.0) is None  # would wait 1.5 s: refused, nothing taken
    clock.now = 10.0
    assert bucket.reserve() == 0.0


def test_circuit_breaker_states():
    clock = FakeClock()
    breaker = CircuitBreaker(failures=2, reset_s=5.0, clock=clock)
    assert breaker.allow() == "pass"
    breaker.record_failure("boom")
    assert breaker.state == "closed"
    breaker.record_failure("boom again")
    assert breaker.state == "open" and breaker.allow() is None and breaker.last_error == "boom again"
    clock.now = 5.0
    assert breaker.allow() == "probe" and breaker.allow() is None  # one probe at a time
    breaker.record_failure("still down")
    assert breaker.state == "open"  # a failed probe re-opens at once
    clock.now = 10.0
    assert breaker.allow() == "probe"
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow() == "pass"
