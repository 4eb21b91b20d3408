"""The runtime's core contract from Python: Task, finalize, run_task, registry identity, the pool."""

from __future__ import annotations

import asyncio
import math

import orjson
import pytest

import verifiers
from verifiers import Item, Registry, Status, Verdict, verifier_from_function
from verifiers.exact import ExactVerifier
from verifiers.judge import JudgeConfig, JudgeVerifier
from verifiers.runtime import LocalScorer, Overloaded, ProcessPool, Task, finalize, run_task
from verifiers.runtime.prepare import prepare


def shout(completion, reference, params, ctx):
    """1 when the completion is the reference in capitals."""
    return Verdict.scored(1.0 if completion == str(reference).upper() else 0.0, details={"pid_known": True})


def custom_registry() -> Registry:
    return Registry([ExactVerifier(), verifier_from_function(shout, name="shout")])


def task_for(item: dict, registry: Registry, timeout_s: float = 5.0) -> Task:
    task = prepare(Item.model_validate(item), registry, timeout_s)
    assert isinstance(task, Task), task
    return task


# -- Task ----------------------------------------------------------------------------------------

def test_task_travels_as_json_and_keeps_its_identity():
    registry = custom_registry()
    task = task_for({"verifier": "exact", "completion": "Paris", "reference": ["paris", "Paname"],
                     "params": {"case_sensitive": False}, "group": "q1"}, registry)
    again = Task.from_json(task.to_json())
    assert again == task and again.key == task.key
    assert again.spec == "exact@1" and again.fingerprint == registry.fingerprint and again.group == "q1"
    # what cannot change a verdict does not change the key; what can, does
    assert Task.from_plain(task.to_plain() | {"timeout_s": 99, "group": "other"}).key == task.key
    assert Task.from_plain(task.to_plain() | {"config": "judge model B"}).key != task.key
    assert Task.from_plain(task.to_plain() | {"text": "Lyon"}).key != task.key
    with pytest.raises(ValueError, match="not a task"):
        Task.from_json(b'{"spec": "exact@1"}')
    with pytest.raises(ValueError, match="not a task"):
        Task.from_json(b"[1, 2]")


def test_cache_key_covers_the_judge_configuration():
    def judge_registry(model: str) -> Registry:
        return Registry([JudgeVerifier({"default": JudgeConfig(name="default", base_url="http://127.0.0.1:9/v1",
                                                                model=model)})])

    item = {"verifier": "judge", "completion": "4", "reference": {"prompt": "2+2?"}}
    assert task_for(item, judge_registry("model-a")).key != task_for(item, judge_registry("model-b")).key
    assert task_for(item, judge_registry("model-a")).key == task_for(item, judge_registry("model-a")).key


# -- finalize -----------------------------------------------------------------------------------

@pytest.mark.parametrize("garbage, reason", [
    (None, "expected a Verdict, got None"),
    (1.0, "expected a Verdict, got float"),
    ({"reward": 1.0}, "expected a Verdict, got dict"),
    (Verdict.model_construct(reward=math.nan, status=Status.ok, components={}, details={}), "not finite"),
    (Verdict.model_construct(reward=math.inf, status=Status.ok, components={}, details={}), "not finite"),
    (Verdict.model_construct(reward=-math.inf, status=Status.ok, components={}, details={}), "not finite"),
    (Verdict.model_construct(reward="1", status=Status.ok, components={}, details={}), "must be a number"),
    (Verdict.model_construct(reward=1.0, status=Status.ok, components={"c": math.nan}, details={}), "component 'c'"),
    (Verdict.model_construct(reward=1.0, status="great", components={}, details={}), "unknown status"),
])
def test_finalize_turns_garbage_into_an_error_with_the_reason(garbage, reason):
    verdict = finalize(garbage, "demo@1", 1.5)
    assert verdict.status == Status.error and reason in verdict.message
    assert verdict.verifier == "demo@1" and verdict.elapsed_ms == 1.5 and verdict.reward == 0.0


def test_finalize_makes_details_json_safe_with_a_note():
    cycle: list = []
    cycle.append(cycle)
    result = Verdict.scored(1.0)
    result.details = {"tags": {"a"}, "obj": object(), 3: "three", "big": 10**30, "cycle": cycle, "fine": [1, 2.5]}
    verdict = finalize(result, "demo@1", 0.0)
    assert verdict.status == Status.ok and verdict.reward == 1.0
    details = orjson.loads(orjson.dumps(verdict.details))
    assert details["tags"] == ["a"] and details["3"] == "three" and details["big"] == str(10**30)
    assert details["fine"] == [1, 2.5] and details["obj"].startswith("<object object")
    assert "object is not JSON" in details["details_note"] and "deeper than" in details["details_note"]


def test_finalize_leaves_good_details_untouched():
    details = {"extracted": "42", "nan_is_null_in_json": math.nan}
    result = Verdict.scored(1)
    result.details = details
    verdict = finalize(result, "math@1", 0.25)
    assert verdict.details is details and verdict.reward == 1.0 and isinstance(verdict.reward, float)


# -- run_task: the worker side --------------------------------------------------------------------

def test_run_task_answers_error_for_what_it_does_not_hold():
    registry = custom_registry()
    task = task_for({"verifier": "shout", "completion": "HI", "reference": "hi"}, registry)
    assert run_task(task, registry).reward == 1.0

    other = Registry([ExactVerifier()])
    missing = run_task(Task.from_plain(task.to_plain() | {"fingerprint": other.fingerprint}), other)
    assert missing.status == Status.error and "shout@1" in missing.message
    stale = run_task(task, Registry([ExactVerifier(), verifier_from_function(shout, name="shout", version=2)]))
    assert stale.status == Status.error and task.fingerprint in stale.message


def test_fingerprint_names_the_content():
    assert custom_registry().fingerprint == custom_registry().fingerprint
    grown = custom_registry()
    before = grown.fingerprint
    grown.register(verifier_from_function(shout, name="shout", version=2))
    assert grown.fingerprint != before
    assert Registry([ExactVerifier()]).fingerprint != custom_registry().fingerprint


def test_in_process_verify_passes_finalize(demo_plugin):
    assert verifiers.verify("demo:none", "x").status == Status.error
    nan = verifiers.verify("demo:nonfinite", "nan")
    assert nan.status == Status.error and "not finite" in nan.message and nan.verifier == "demo:nonfinite@1"
    assert verifiers.verify("demo:sys_exit", "x").status == Status.error


# -- the pool ------------------------------------------------------------------------------------

def test_a_custom_registry_reaches_the_workers():
    items = [{"id": i, "verifier": "shout", "completion": w.upper() if i % 2 else w, "reference": w}
             for i, w in enumerate(["alpha", "beta", "gamma", "delta"])]
    with LocalScorer(workers=2, registry=custom_registry()) as scorer:
        verdicts = scorer.score(items + [{"verifier": "math", "completion": "1", "reference": "1"}])
    assert [v.reward for v in verdicts[:4]] == [0.0, 1.0, 0.0, 1.0]
    assert all(v.status == Status.ok and v.verifier == "shout@1" for v in verdicts[:4])
    assert verdicts[4].status == Status.invalid_input  # not in this registry


def test_pool_outside_the_server_admits_fairly_and_refuses_past_its_bound(demo_plugin):
    registry = verifiers.default_registry()

    async def scenario() -> tuple[list[str], Overloaded, list[Verdict]]:
        pool = ProcessPool(1, max_pending=40)
        await pool.start()
        try:
            slow = [task_for({"verifier": "demo:sleep", "completion": str(i)}, registry, 0.3) for i in range(3)]
            fast = [task_for({"verifier": "exact", "completion": "a", "reference": "a"}, registry)]
            finished: list[str] = []

            async def run(name, tasks):
                verdicts = await pool.run(tasks)
                finished.append(name)
                return verdicts

            big = asyncio.create_task(run("big", slow * 10))  # 30 tasks of 0.3 s on one worker
            await asyncio.sleep(0.1)
            with pytest.raises(Overloaded) as refused:
                await pool.run(fast * 11)
            small = await run("small", fast)
            big.cancel()
            await asyncio.sleep(0.05)
            assert pool.pending() < 20  # of 30: its queued tasks are gone, only the chunk in flight runs on
            return finished, refused.value, small
        finally:
            await pool.close()

    finished, refused, small = asyncio.run(scenario())
    assert finished == ["small"] and small[0].reward == 1.0
    assert refused.retry_after_s >= 1 and "REFEREE_MAX_PENDING_ITEMS" in str(refused)
