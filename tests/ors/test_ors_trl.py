"""TRL's `OpenRewardSpec` (trl.experimental.openreward) pointed at a running Referee."""

from __future__ import annotations

from tests.ors.conftest import KEY_A
from tests.ors.test_ors_openreward import right_answer


def test_open_reward_spec_trains_against_referee(ors_url: str, openreward_env) -> None:
    openreward_env(ors_url, KEY_A)
    from trl.experimental.openreward import OpenRewardSpec

    spec = OpenRewardSpec(f"{ors_url}/v1/ors", env_name="sudoku", num_tasks=3)
    dataset = spec.train_dataset
    assert len(dataset) == 3 and dataset["task_index"] == [0, 1, 2]
    assert dataset["prompt"][0] == [{"role": "user", "content": ""}]
    instance_ids = dataset["instance_id"]  # the task spec's only key, folded in as a column

    solved, failed = spec.environment_factory(), spec.environment_factory()
    assert callable(getattr(solved, "submit")) and not hasattr(solved, "run_python")
    prompt = solved.reset(task_index=2)
    assert "sudoku" in prompt.lower()
    text = solved.submit(answer=right_answer(instance_ids[2]))
    assert "Correct" in text and solved.finished and solved.reward == 1.0
    failed.reset(task_index=1)
    assert "Not accepted" in failed.submit(answer="<answer>1</answer>")
    unscored = spec.environment_factory()
    unscored.reset(task_index=0)  # never submits: no reward, masked rather than scored 0
    assert spec.reward_funcs(environments=[solved, failed, unscored]) == [1.0, 0.0, None]
    for env in (solved, failed, unscored):
        env._close()


def test_open_reward_spec_binds_the_interpreter_tool(ors_url: str, openreward_env) -> None:
    openreward_env(ors_url, KEY_A)
    from trl.experimental.openreward import OpenRewardSpec

    spec = OpenRewardSpec(f"{ors_url}/v1/ors", env_name="arith")
    assert len(spec.train_dataset) == 2
    env = spec.environment_factory()
    assert "6*7" in env.reset(task_index=0)
    assert env.run_python(code="answer = 6 * 7") == "(no output)"
    assert env.run_python(code="print(answer)") == "42"
    env.submit(answer="42")
    assert spec.reward_funcs(environments=[env]) == [1.0]
    env._close()
