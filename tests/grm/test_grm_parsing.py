"""Score parsing, the scale, the expected value and device choice: the pure cores of the GRM service."""

import math

import pytest

from server.grm.model import ModelLoadError, resolve_placement
from server.grm.parsing import Scale, parse_score
from server.grm.prompting import GradingTask, render, user_message
from server.grm.scorer import expected_score

TEN = Scale(1, 10)


@pytest.mark.parametrize("text, expected", [
    ("Clear and correct.\nScore: 7/10", 7.0),
    ("Score: 7", 7.0),
    ("**Score:** 8 / 10", 8.0),
    ("Final score = [[6]]", 6.0),
    ("Rating: 9 out of 10", 9.0),
    ("score:10/10", 10.0),
    ("Grade: 6.5/10", 6.5),
    ("SCORE (overall): 4", 4.0),
])
def test_scores_written_in_common_ways_are_read(text, expected):
    assert parse_score(text, TEN) == expected


@pytest.mark.parametrize("text", [
    "",
    "The response is fine.",
    "Scores range widely; the score of this one is high.",  # no number after the keyword
    "Score: 11/10",  # off the scale
    "Score: 0",  # below the scale
    "Score: 8/5",  # a different maximum is not rescaled
    "Score: -3",
])
def test_no_score_on_the_scale_means_none(text):
    assert parse_score(text, TEN) is None


def test_the_last_score_wins_and_off_scale_ones_are_skipped():
    text = "A score: 1 would be harsh, score: 3 too.\nScore: 8/10\nScore: 42"
    assert parse_score(text, TEN) == 8.0


def test_other_scales():
    five = Scale(1, 5)
    assert parse_score("Score: 4/5", five) == 4.0
    assert parse_score("Score: 9/10", five) is None
    zero = Scale(0, 1)
    assert parse_score("Score: 0", zero) == 0.0


def test_scale_maps_scores_onto_unit_interval():
    assert TEN.to_reward(1) == 0.0 and TEN.to_reward(10) == 1.0
    assert math.isclose(TEN.to_reward(7), 6 / 9)
    assert Scale(0, 4).to_reward(3) == 0.75
    assert TEN.candidate(10) == " 10/10" and TEN.candidate(1) == " 1/10"
    with pytest.raises(ValueError):
        Scale(5, 5)


def test_expected_score_normalises_over_the_scale():
    # log-probabilities need not sum to one: only the scale's candidates count
    score, probs = expected_score(Scale(1, 3), [math.log(0.1), math.log(0.1), math.log(0.2)])
    assert probs == pytest.approx({"1": 0.25, "2": 0.25, "3": 0.5})
    assert score == pytest.approx(1 * 0.25 + 2 * 0.25 + 3 * 0.5)
    # very negative log-probabilities do not underflow to a division by zero
    score, probs = expected_score(Scale(1, 2), [-5000.0, -5001.0])
    assert sum(probs.values()) == pytest.approx(1.0) and 1 < score < 1.5


def test_prompt_names_reference_principles_and_scale():
    task = GradingTask(prompt="What is 2+2?", response="5", reference="4",
                       principles=("Be exact", "Be brief"), scale=Scale(1, 5))
    text = user_message(task)
    assert "[Reference answer]\n4" in text and "1. Be exact\n2. Be brief" in text
    assert '"Score: N/5"' in text and "from 1 (worst) to 5 (best)" in text
    plain = user_message(GradingTask(prompt="p", response="r"))
    assert "[Reference answer]" not in plain and "[Principles]" not in plain
    assert render(task, None).endswith("### Critique\n")  # no tokenizer template: the plain layout


def test_device_auto_uses_cuda_and_bf16_when_present_else_cpu_float32():
    assert resolve_placement("auto", "auto", cuda_available=False) == resolve_placement("cpu", "auto", cuda_available=True)
    cpu = resolve_placement("auto", "auto", cuda_available=False)
    assert (cpu.device, cpu.dtype) == ("cpu", "float32")
    gpu = resolve_placement("auto", "auto", cuda_available=True)
    assert (gpu.device, gpu.dtype) == ("cuda", "bfloat16")
    old_gpu = resolve_placement("cuda:1", "auto", cuda_available=True, bf16_supported=False)
    assert (old_gpu.device, old_gpu.dtype) == ("cuda:1", "float16")
    assert resolve_placement("cpu", "bf16", cuda_available=False).dtype == "bfloat16"


def test_device_errors_are_clear():
    with pytest.raises(ModelLoadError, match="no CUDA device"):
        resolve_placement("cuda", "auto", cuda_available=False)
    with pytest.raises(ModelLoadError, match="unknown device"):
        resolve_placement("tpu", "auto", cuda_available=False)
    with pytest.raises(ModelLoadError, match="unknown dtype"):
        resolve_placement("cpu", "int3", cuda_available=False)
