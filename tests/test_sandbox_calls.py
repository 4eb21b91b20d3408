"""`sandbox.calls.FunctionHost`: untrusted Python called many times, each call contained."""

from __future__ import annotations

import math
import time

import pytest

from sandbox.calls import FunctionHost

HOSTILE = '''
import os, socket, sys, time
LOADS = [time.monotonic()]
with open("/tmp/imports", "a") as fh:  # /tmp is private to one run: counts imports within a batch
    fh.write("x")

def score(completion, reference, params):
    kind = completion
    if kind == "loop":
        while True:
            pass
    if kind == "exit":
        os._exit(7)
    if kind == "sys_exit":
        sys.exit(0)
    if kind == "fork":
        for _ in range(100):
            try:
                os.fork()
            except OSError:
                break
        return 0.5
    if kind == "socket":
        socket.create_connection(("127.0.0.1", 8000), timeout=1)
    if kind == "huge":
        return "x" * (1 << 20)
    if kind == "print":
        print("some output", flush=True)
        raise ValueError("bad")
    if kind == "state":
        LOADS.append(1)
        return len(LOADS)
    if kind == "imports":
        with open("/tmp/imports") as fh:
            return len(fh.read())
    if kind == "nan":
        return float("nan")
    return {"reward": float(completion == reference), "details": {"pid_ns_init": os.getpid() > 1}}
'''


@pytest.fixture(scope="module")
def host():
    with FunctionHost(HOSTILE, "score") as h:
        yield h


def _call(host: FunctionHost, completions: list[str], timeout_s: float = 1.0):
    calls = [[c, "ok", {}] for c in completions]
    outcomes = []
    while len(outcomes) < len(calls):
        outcomes += host.call_many(calls[len(outcomes):], call_timeout_s=timeout_s, deadline=time.monotonic() + 20)
    return outcomes


def test_each_hostile_call_is_contained_and_the_rest_still_scored(host):
    kinds = ["ok", "loop", "ok", "exit", "sys_exit", "fork", "socket", "huge", "print", "nan", "ok"]
    outcomes = _call(host, kinds)
    by_kind = dict(zip(kinds, outcomes))
    assert [o.status for k, o in zip(kinds, outcomes) if k == "ok"] == ["ok", "ok", "ok"]
    assert outcomes[0].value == {"reward": 1.0, "details": {"pid_ns_init": True}}
    assert by_kind["loop"].status == "timeout"
    assert by_kind["exit"].status == "crashed" and "exit code 7" in by_kind["exit"].message
    assert by_kind["sys_exit"].status == "error" and "SystemExit" in by_kind["sys_exit"].message
    assert by_kind["fork"].status in ("crashed", "timeout", "ok")  # contained whichever way it ends
    assert by_kind["socket"].status == "error"  # no route out of the sandbox, not even to the service
    assert by_kind["huge"].status == "error" and "over the limit" in by_kind["huge"].message
    assert by_kind["print"].status == "error" and "some output" in by_kind["print"].output
    assert by_kind["nan"].status == "ok" and math.isnan(by_kind["nan"].value)


def test_module_is_imported_once_per_batch_and_calls_do_not_share_state(host):
    outcomes = _call(host, ["imports", "state", "imports", "state", "state", "imports"])
    # One import for the whole batch; every call sees the module as loaded, never a neighbour's append.
    assert [o.value for o in outcomes] == [1, 2, 1, 2, 2, 1]


def test_a_spent_deadline_answers_a_prefix(host):
    calls = [["loop", "x", {}], ["loop", "x", {}], ["ok", "ok", {}]]
    outcomes = host.call_many(calls, call_timeout_s=5.0, deadline=time.monotonic() + 0.5)
    assert 1 <= len(outcomes) < 3 and outcomes[0].status == "timeout"  # the rest is the caller's to run again
    assert host.call_many(calls, call_timeout_s=1.0, deadline=time.monotonic() - 1) == []


@pytest.mark.parametrize("source, expected", [
    ("def score(:\n", "SyntaxError"),
    ("x = 1\n", "no function 'score'"),
    ("raise RuntimeError('at import')\n", "RuntimeError: at import"),
    ("while True:\n    pass\n", "did not finish loading"),
    ("import os\nos._exit(0)\n", "failed to load"),
])
def test_a_module_that_cannot_load_is_reported(source, expected):
    with FunctionHost(source, "score") as h:
        problem = h.check(timeout_s=1.5)
        assert problem is not None and expected in problem
        outcomes = h.call_many([["a", "b", {}]] * 3, call_timeout_s=1.0, deadline=time.monotonic() + 3)
        assert [o.status for o in outcomes] == ["error"] * 3 and expected in outcomes[0].message
