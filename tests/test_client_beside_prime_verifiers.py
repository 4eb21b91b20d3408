"""referee-client installed alone in a fresh venv next to PrimeIntellect's `verifiers` (the package
every prime-rl environment has, whose import name is also Referee's): it imports and scores. The
same venv's verifiers v1 NeMo Gym taskset state posts to Referee's NeMo Gym endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT_DIR = Path(__file__).resolve().parent.parent / "client"
PRIME_VERIFIERS = "verifiers==0.4.0"

SCRIPT = """
import asyncio, json, sys
import verifiers, verifiers.v1 as vf                      # PrimeIntellect's package and its v1 stack
from referee_client import RefereeClient
from referee_client.trl import reward_func
from referee_client.verl import compute_score

url = sys.argv[1]
with RefereeClient(url, micro_batch_ms=5) as referee:
    batch = referee.verify([{"verifier": "math", "completion": "\\\\boxed{42}", "reference": "42"},
                            {"verifier": "math", "completion": "\\\\boxed{41}", "reference": "42"}])
    singles = [referee.submit({"verifier": "exact", "completion": w, "reference": "yes"}) for w in ("yes", "no")]
    singles = [f.result() for f in singles]
trl_rewards = asyncio.run(reward_func("math", url=url)(prompts=["p", "p"], completions=["\\\\boxed{1}", "\\\\boxed{2}"],
                                                       answer=["1", "1"]))
verl_score = compute_score("gsm8k", "\\\\boxed{7}", "7", {}, verifier="math", url=url)

# verifiers v1's NeMo Gym task: seed_session, then verify with the row plus a Responses object,
# through its own per-rollout state (what NeMoGymTask.setup / .nemo_gym post), reading `reward`.
from verifiers.v1.tasksets.nemo_gym.toolset import NeMoGymState

async def nemo_gym():
    state = NeMoGymState(resources_url=url + "/v1/compat/nemo-gym/math")
    row = {"responses_create_params": {"input": [{"role": "user", "content": "6*7?"}]}, "expected_answer": "42"}
    (await state.post("seed_session", row)).raise_for_status()
    rewards = []
    for text in ("so \\\\boxed{42}", "\\\\boxed{41}"):
        output = [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}]
        answer = await state.post("verify", row | {"response": {"id": "r", "object": "response", "output": output}})
        answer.raise_for_status()
        result = answer.json()
        del result["responses_create_params"], result["response"]
        rewards.append(float(result.pop("reward")))
    return rewards

nemo_gym_rewards = asyncio.run(nemo_gym())
print(json.dumps({
    "verifiers_file": verifiers.__file__, "prefix": sys.prefix, "has_v1_env": hasattr(vf, "Env"),
    "ours_loaded": sorted({m.split(".")[0] for m in sys.modules} & {"server", "sandbox", "envs"}),
    "batch": [v.reward for v in batch], "singles": [v.reward for v in singles],
    "trl": trl_rewards, "verl": verl_score["score"], "nemo_gym": nemo_gym_rewards,
}))
"""


@pytest.mark.timeout(900)
def test_client_scores_from_a_venv_holding_prime_verifiers(server, tmp_path):
    venv = tmp_path / "prime-env"
    subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check"]
    subprocess.run([*pip, str(CLIENT_DIR), PRIME_VERIFIERS], check=True, timeout=840)
    script = tmp_path / "score.py"
    script.write_text(SCRIPT)
    # -I: nothing from this checkout or the test venv is importable, only the fresh venv's packages
    done = subprocess.run([str(venv / "bin" / "python"), "-I", str(script), server], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["verifiers_file"].startswith(report["prefix"]) and report["has_v1_env"]
    assert report["ours_loaded"] == []
    assert report["batch"] == [1.0, 0.0] and report["singles"] == [1.0, 0.0]
    assert report["trl"] == [1.0, 0.0] and report["verl"] == 1.0
    assert report["nemo_gym"] == [1.0, 0.0]
