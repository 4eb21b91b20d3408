"""Generation: deterministic across processes, bounded by a budget that fails loudly, cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from envs import GenerationBudgetExceeded, all_environments, get_environment
from envs.base import Generation, stable_rng

ALL = [env.name for env in all_environments()]

DUMP = """
import json, sys
from envs import all_environments
out = []
for env in reversed(all_environments()):  # another order: nothing may depend on what ran before
    for level in ("default", "easiest"):
        for seed in (987654321, 1, 0):
            inst = env.sample(seed, env.levels()[level])
            out.append([inst.id, inst.prompt, inst.solution, inst.data])
json.dump(sorted(out, key=lambda row: row[0]), sys.stdout, sort_keys=True)
"""


def dump_here() -> list:
    out = []
    for env in all_environments():
        for level in ("easiest", "default"):
            for seed in (0, 1, 987654321):
                inst = env.sample(seed, env.levels()[level])
                out.append([inst.id, inst.prompt, inst.solution, inst.data])
    return json.loads(json.dumps(sorted(out, key=lambda row: row[0]), sort_keys=True))


def test_same_instances_in_another_process_with_another_hash_seed():
    here = dump_here()
    for hash_seed in ("1", "4242"):
        proc = subprocess.run([sys.executable, "-c", DUMP], capture_output=True, text=True, check=True,
                              env=os.environ | {"PYTHONHASHSEED": hash_seed})
        assert json.loads(proc.stdout) == here


def test_rebuilding_from_the_id_gives_the_same_instance_without_the_cache():
    for env in all_environments():
        inst = env.sample(77)
        fresh = type(env)()  # a new object has an empty cache
        rebuilt = fresh.rebuild(inst.id)
        assert (rebuilt.prompt, rebuilt.solution, rebuilt.data) == (inst.prompt, inst.solution, inst.data)


def test_seeds_and_configs_give_different_instances():
    for env in all_environments():
        prompts = {env.sample(seed).prompt for seed in range(5)}
        assert len(prompts) >= 4, env.name
        assert env.sample(0, env.easiest).prompt != env.sample(0, env.hardest).prompt


def test_the_stable_rng_does_not_depend_on_python_hash():
    assert stable_rng("x", 1, {"a": 1}, 5).random() == stable_rng("x", 1, {"a": 1}, 5).random()
    assert stable_rng("x", 1, {"a": 1}, 5).random() != stable_rng("x", 1, {"a": 1}, 6).random()


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("level", ["easiest", "hardest"])
def test_min_and_max_difficulty_generate_within_the_budget(name, level):
    env = get_environment(name)
    config = env.levels()[level]
    for seed in range(3):
        inst = env.sample(seed, config)  # raises GenerationBudgetExceeded if the budget runs out
        assert 1 <= inst.metadata["attempts"] <= env.max_attempts
        assert env.score(inst, inst.answer_text()).reward == 1.0


def test_documented_ranges_are_enforced():
    env = get_environment("sudoku")
    with pytest.raises(ValueError):
        env.parse_config({"size": 16})
    with pytest.raises(ValueError):
        env.parse_config({"empty_fraction": 0.99})
    with pytest.raises(ValueError):
        env.parse_config({"unknown_knob": 1})
    for e in all_environments():
        schema = e.Config.model_json_schema()
        for field, spec in schema["properties"].items():
            assert spec.get("description"), f"{e.name}.{field} has no description"


def test_a_generator_out_of_budget_fails_loudly_instead_of_looping():
    class TightKenKen(type(get_environment("kenken"))):
        max_attempts = 1

    tight = TightKenKen()
    outcomes = []
    for seed in range(12):
        try:
            tight.sample(seed, {"size": 5, "max_cage": 4, "unique": True})
            outcomes.append("ok")
        except GenerationBudgetExceeded as exc:
            assert "no acceptable instance in 1 attempts" in str(exc) and "kenken@1" in str(exc)
            outcomes.append("exceeded")
    assert "exceeded" in outcomes


def test_generation_tries_stop_at_the_budget():
    gen = Generation(rng=stable_rng(0), max_attempts=3, solver_rlimit=1, label="probe")
    with pytest.raises(GenerationBudgetExceeded, match="probe: no acceptable instance in 3 attempts"):
        for _ in gen.tries():
            pass
    assert gen.attempts == 3


def test_instances_are_cached_per_process():
    env = get_environment("sudoku")
    inst = env.sample(31)
    assert env.rebuild(inst.id) is inst
    assert env.rebuild(" " + inst.id + "\n") is inst


def test_the_public_view_carries_no_reference():
    for env in all_environments():
        inst = env.sample(3)
        public = inst.public()
        assert set(public) == {"id", "env", "version", "seed", "prompt", "metadata"}
        assert "solution" not in json.dumps(public)
        assert "<answer>" in inst.prompt and "Answer format:" in inst.prompt


def test_an_instance_built_here_travels_with_the_job_instead_of_being_rebuilt():
    from envs.verifier import EnvVerifier
    from verifiers.base import Context, NoParams
    from verifiers.registry import Registry

    env = type(get_environment("job_shop"))()  # its own, empty cache
    verifier = EnvVerifier(env)
    instance_id = get_environment("job_shop").sample(123).id
    assert verifier.check_reference(instance_id, NoParams()) == instance_id  # not built here: the id
    inst = env.rebuild(instance_id)
    carried = verifier.check_reference(" " + instance_id, NoParams())
    assert isinstance(carried, dict) and "prompt" not in carried["instance"]
    json.dumps(carried)  # plain data: it pickles and hashes into the result-cache key

    worker_side = EnvVerifier(type(env)())  # another process: nothing cached
    ctx = Context(registry=Registry())
    good = worker_side.verify(inst.answer_text(), carried, NoParams(), ctx)
    bad = worker_side.verify("<answer>Job 1: 0</answer>", carried, NoParams(), ctx)
    assert good.reward == 1.0 and bad.status == "wrong_format"
    assert worker_side.env.cache.peek(instance_id) is None  # it used the carried instance


def test_scoring_views_survive_a_json_round_trip():
    from envs.base import Instance

    for env in all_environments():
        inst = env.sample(8)
        view = json.loads(json.dumps(inst.scoring_view()))  # e.g. through a queue between hosts
        again = Instance.from_scoring_view(view)
        assert env.score(again, inst.answer_text()).reward == 1.0, env.name
        assert env.score(again, "<answer>0</answer>").reward == 0.0, env.name
