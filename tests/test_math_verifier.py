"""The `math` verifier through the public API: §5 failures, hard cases, hostile answers, threads."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

import verifiers
from verifiers import Status
from verifiers.math_verifier import verify_batch


def score(completion: str, reference: str, **params) -> float:
    verdict = verifiers.verify("math", completion=completion, reference=reference, params=params)
    assert verdict.status == Status.ok, verdict
    return verdict.reward


# Known Math-Verify mistakes (false positives, then false negatives).
KNOWN_FAILURES = [
    ("1-\\frac{1}{e}", "1+\\frac{1}{e}", 0.0),
    ("1 - \\frac{1}{\\mathrm{e}}", "1 + \\frac{1}{\\mathrm{e}}", 0.0),
    ("\\frac{1}{2004!}", "\\frac{1}{2006!}", 0.0),
    ("3x-y+13=0", "3x+4y+14=0", 0.0),
    ("\\dfrac{\\pi}{2}", "pi/2", 1.0),
    ("-2\\pi", "-2*pi", 1.0),
    ("14 - i", "14.0 + -1.0i", 1.0),
    ("y = 2x + 3", "2x - y + 3 = 0", 1.0),
    ("2x - y + 3 = 0", "-4x + 2y - 6 = 0", 1.0),
    ("2^{100}", "2^{100}+1", 0.0),
]


@pytest.mark.parametrize("reference,answer,expected", KNOWN_FAILURES)
def test_known_math_verify_failures_are_fixed(reference, answer, expected):
    assert score(f"The answer is $\\boxed{{{answer}}}$", reference) == expected


def test_final_box_wins_over_earlier_boxes():
    completion = "First $\\boxed{3}$ is a step. Then we get more. Therefore $\\boxed{5}$."
    assert score(completion, "5") == 1.0
    assert score(completion, "3") == 0.0


HARD_CASES = [
    ("12345678901234567890123456789", "12345678901234567890123456789", 1.0),
    ("12345678901234567890123456789", "12345678901234567890123456788", 0.0),
    ("7425000", "7,425,000", 1.0),
    ("0.5", "\\frac{1}{2}", 1.0),
    ("\\frac{1}{3}", "0.333", 0.0),
    ("50\\%", "50", 1.0),
    ("50\\%", "0.5", 1.0),
    ("90^\\circ", "90", 1.0),
    ("90^\\circ", "\\frac{\\pi}{2}", 1.0),
    ("5", "5 \\text{ cm}", 1.0),
    ("\\sqrt{2}", "sqrt(2)", 1.0),
    ("2\\sqrt{2}", "\\sqrt{8}", 1.0),
    ("3+4i", "4i+3", 1.0),
    ("(1, 2)", "(2, 1)", 0.0),
    ("\\{1, 2\\}", "\\{2, 1\\}", 1.0),
    ("[0, 1) \\cup (2, 3]", "(2,3] \\cup [0,1)", 1.0),
    ("[0, 1)", "[0, 1]", 0.0),
    ("\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", "\\begin{bmatrix}1 & 2 \\\\ 3 & 4\\end{bmatrix}", 1.0),
    ("\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", "\\begin{pmatrix}1 & 3 \\\\ 2 & 4\\end{pmatrix}", 0.0),
    ("x^2 + 2x + 1", "(x+1)^2", 1.0),
    ("x^2 + 2x + 1", "(x-1)^2", 0.0),
    ("x > 3", "(3, \\infty)", 1.0),
    ("x \\le 5", "5 \\ge x", 1.0),
    ("x < 1", "-x > -1", 1.0),
    ("x < 1", "x > -1", 0.0),
    ("\\pm 3", "\\{3, -3\\}", 1.0),
    ("k = 4", "4", 1.0),
    ("2", "\\sqrt[3]{2+\\sqrt{5}}+\\sqrt[3]{2-\\sqrt{5}}+1", 1.0),  # real cube roots
    ("\\frac{\\sqrt{2}}{2}", "\\sin 45^\\circ", 1.0),
    ("\\frac{1}{3}", "\\int_0^1 x^2 dx", 1.0),  # through the symbolic fallback
]


@pytest.mark.parametrize("reference,answer,expected", HARD_CASES)
def test_hard_cases(reference, answer, expected):
    assert score(f"so $\\boxed{{{answer}}}$", reference) == expected


def test_choice_letters():
    assert score("The answer is (B).", "B") == 1.0
    assert score("The answer is \\boxed{\\text{(C)}}", "(B)") == 0.0


def test_reasoning_block_only_the_end_counts():
    assert score("<think>maybe \\boxed{3}</think> The answer is $\\boxed{4}$", "4") == 1.0
    assert score("<think>it is \\boxed{4}</think> so \\boxed{3}", "4") == 0.0
    verdict = verifiers.verify("math", completion="<think>long thought \\boxed{4}", reference="4")
    assert verdict.status == Status.wrong_format


def test_details_say_what_was_extracted_and_from_where():
    verdict = verifiers.verify("math", completion="Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.",
                               reference="0.75")
    assert verdict.reward == 1.0
    assert verdict.details["source"] == "final_answer"
    assert verdict.details["extracted"] == "\\frac{3}{4}"


def test_missing_answer_is_wrong_format():
    verdict = verifiers.verify("math", completion="I could not solve this problem.", reference="4")
    assert verdict.status == Status.wrong_format


# Hostile answers: they must earn nothing and cost little.
@pytest.mark.parametrize("completion,reference", [
    ("\\boxed{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}", "7"),  # listing many values
    ("\\boxed{3} or \\boxed{4}", "4"),  # hedging between boxes
    ("The answer is 3 or 4", "4"),
    ("\\boxed{9^{9^{9^{9}}}}", "1"),  # power tower
    ("\\boxed{9^9^9^9}", "1"),
    ("\\boxed{100000000!}", "1"),  # huge factorial
    ("\\boxed{" + "(" * 5000 + "1" + ")" * 5000 + "}", "1"),  # deep nesting
    ("\\boxed{" + "9" * 200_000 + "}", "9"),  # huge number
    ("\\boxed{1" + " \\pm 1" * 40 + "}", "1"),  # 2^40 alternatives
    ("Solve $2x + 3 = 7$. So $\\boxed{2x + 3 = 7}$", "x = 2"),  # echoing the question
    ("\\boxed{x = 2 \\text{ or } x = 3}", "x = 2"),
])
def test_hostile_answers_earn_nothing(completion, reference):
    verdict = verifiers.verify("math", completion=completion, reference=reference)
    assert verdict.reward == 0.0, verdict


def test_identical_power_tower_is_recognised_without_evaluating():
    assert score("\\boxed{9^{9^{9^{9}}}}", "9^{9^{9^{9}}}") == 1.0


def test_interval_reference_does_not_accept_echoed_inequality():
    assert score("$\\boxed{x \\ge 2}$", "[2, \\infty)") == 0.0
    assert score("$\\boxed{x \\ge 2}$", "[2, \\infty)", set_relation=True) == 1.0
    assert score("$\\boxed{[2, \\infty)}$", "x \\ge 2") == 1.0


def test_long_completion_is_cut_and_says_so():
    completion = "blah " * 20_000 + "so \\boxed{42}"
    verdict = verifiers.verify("math", completion=completion, reference="42")
    assert verdict.reward == 1.0
    assert "truncated" in verdict.details


def test_params_are_validated():
    verdict = verifiers.verify("math", completion="\\boxed{1}", reference="1", params={"nope": 1})
    assert verdict.status == Status.invalid_input


def test_extraction_modes():
    verdict = verifiers.verify("math", completion="The answer is 5", reference="5", params={"extraction": "boxed"})
    assert verdict.status == Status.wrong_format
    assert score("5", "5", extraction="whole") == 1.0


def test_units_can_be_required():
    verdict = verifiers.verify("math", completion="\\boxed{5 \\text{ apples}}", reference="5",
                               params={"allow_units": False})
    assert verdict.reward == 0.0


CASES = [(f"We get $\\boxed{{{a}}}$", r) for r, a, _ in KNOWN_FAILURES + HARD_CASES]


def _clear_caches() -> None:
    """So that every mode below computes its verdicts instead of reading the previous mode's."""
    from verifiers.math_verifier.decide import decide, reference_for
    from verifiers.math_verifier.engine import engine_parse

    for cached in (decide, reference_for, engine_parse):
        cached.cache_clear()


def test_same_verdicts_from_threads_and_asyncio():
    _clear_caches()
    plain = [verifiers.verify("math", completion=c, reference=r).reward for c, r in CASES]
    _clear_caches()
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda cr: verifiers.verify("math", completion=cr[0], reference=cr[1]).reward, CASES))

    async def run_async():
        loop = asyncio.get_running_loop()
        return await asyncio.gather(*[
            loop.run_in_executor(None, lambda cr=cr: verifiers.verify("math", completion=cr[0], reference=cr[1]).reward)
            for cr in CASES])

    assert threaded == plain
    _clear_caches()
    assert asyncio.run(run_async()) == plain


def test_batch_matches_single_items():
    completions = [c for c, _ in CASES]
    references = [r for _, r in CASES]
    batch = verify_batch(completions, references)
    single = [verifiers.verify("math", completion=c, reference=r) for c, r in CASES]
    assert [v.reward for v in batch] == [v.reward for v in single]
    assert all(v.verifier == "math@2" for v in batch)


def test_several_different_boxes_can_be_rejected_as_hedging():
    completion = "Maybe $\\boxed{3}$. Let me reconsider the problem carefully. So $\\boxed{5}$."
    assert score(completion, "5") == 1.0
    verdict = verifiers.verify("math", completion=completion, reference="5", params={"several_boxed": "reject"})
    assert verdict.reward == 0.0 and verdict.details["earlier_boxes"] == ["3"]
    assert score("$\\boxed{5}$ and again $\\boxed{5}$", "5", several_boxed="reject") == 1.0


def test_each_reference_is_parsed_once_per_process():
    from verifiers.math_verifier.decide import decide, reference_for

    reference = "\\frac{1234}{4321}"
    before_refs, before_decisions = reference_for.cache_info(), decide.cache_info()
    completions = [f"so $\\boxed{{{a}}}$" for a in ["\\frac{1234}{4321}", "1234/4321", "7", "7", "1234/4321"] * 4]
    verdicts = verify_batch(completions, reference)
    assert [v.reward for v in verdicts] == [1.0, 1.0, 0.0, 0.0, 1.0] * 4
    assert reference_for.cache_info().misses - before_refs.misses == 1
    assert decide.cache_info().misses - before_decisions.misses == 3  # three distinct extracted answers


def test_references_as_numbers_and_bad_references():
    assert verifiers.verify("math", completion="\\boxed{42}", reference=42).reward == 1.0
    assert verifiers.verify("math", completion="\\boxed{0.25}", reference=0.25).reward == 1.0
    assert verifiers.verify("math", completion="\\boxed{1}", reference="").status == Status.invalid_input
    assert verifiers.verify("math", completion="\\boxed{1}", reference=None).status == Status.invalid_input


@pytest.mark.parametrize("reference,answer,expected", [
    ("\\sqrt{2}", "\\sqrt{2} + 10^{-60}", 0.0),  # agrees to 60 digits, still a different number
    ("\\pi", "\\pi + \\frac{1}{10^{45}}", 0.0),
    ("\\sqrt{2} + \\sqrt{3}", "\\sqrt{5 + 2\\sqrt{6}}", 1.0),  # equal, proved
    ("x^2 - 1", "(x-1)(x+1) + \\frac{1}{10^{50}}", 0.0),
    ("\\frac{x^2-1}{x-1}", "x+1", 1.0),
    ("\\sin^2 x + \\cos^2 x", "1", 1.0),
])
def test_exact_values_are_never_equal_by_closeness(reference, answer, expected):
    assert score(f"$\\boxed{{{answer}}}$", reference) == expected


@pytest.mark.parametrize("completion,reference", [
    ("Natalia sold 48/2 = 24 clips in May.\n#### 72", "72"),
    ("so the result is \\boxed 5.", "5"),
    ("**Answer:** $\\frac{3}{4}$", "0.75"),
    ("The answer is: $x = 4$.", "4"),
    ("Thus the final answer is 1,234.", "1234"),
    ("Therefore, $n = 12$ is the smallest such integer.", "12"),
    ("$$\\boxed{\\text{(D)}}$$", "D"),
    ("The correct option is (C).", "C"),
    ("Hence $a+b = \\boxed{17}$ and we are done.", "17"),
    ("So the total cost is \\$18.50.", "18.5"),
    ("we find $x \\in (-\\infty, 2] \\cup [5, \\infty)$", "(-\\infty,2]\\cup[5,\\infty)"),
    ("So $f^{-1}(x) = \\frac{x-3}{2}$", "\\frac{x-3}{2}"),
    ("\\boxed{1.5\\times 10^{3}}", "1500"),
    ("\\boxed{e^{i\\pi}}", "-1"),
    ("\\boxed{\\log_2 8}", "3"),
    ("\\boxed{\\binom{5}{2}}", "10"),
    ("\\boxed{\\emptyset}", "\\varnothing"),
    ("\\boxed{x=2, y=3}", "(2,3)"),
    ("\\boxed{0.1\\overline{6}}", "\\frac16"),
    ("\\boxed{\\left\\lfloor 3.7 \\right\\rfloor}", "3"),
    ("\\boxed{(-\\infty, 3)}", "x<3"),
    ("\\boxed{1.5e-3}", "0.0015"),
    ("\\boxed{\\mathbf{5}}", "5"),
    ("\\boxed{1\\,000\\,000}", "10^6"),
])
def test_answer_formats(completion, reference):
    assert score(completion, reference) == 1.0


HOSTILE_TEXTS = {
    "unclosed boxes": "\\boxed{" * 7000,
    "unclosed display math": "\\[" * 20000,
    "inline math over lines": "\\(\n" * 15000,
    "dollar signs": "$" * 49000,
    "nested boxes": "\\boxed{" * 3000 + "}" * 3000,
    "many spans": "$x$ and \\( y \\) " * 2500,
    "braces": "{" * 49000,
    "markers": "final answer " * 3500,
}


@pytest.mark.timeout(120)  # a hang guard: each of these runs in milliseconds, a quadratic scan in minutes
@pytest.mark.parametrize("name", sorted(HOSTILE_TEXTS))
def test_hostile_texts_earn_nothing_and_do_not_hang(name):
    verdict = verifiers.verify("math", completion=HOSTILE_TEXTS[name], reference="1")
    assert verdict.reward == 0.0
    assert verdict.status in (Status.ok, Status.wrong_format)


def test_several_choice_letters_are_a_hedge():
    verdict = verifiers.verify("math", completion="The answer is $\\boxed{(D) \\text{ or } \\text{(E)}}$.",
                               reference="(E)")
    assert verdict.reward == 0.0 and verdict.details["method"] == "hedged"


def test_line_through_origin_written_as_equation():
    assert score("$\\boxed{1x - y + 0 = 0}$", "y = 1x + 0") == 1.0
    assert score("$\\boxed{x - y = 0}$", "y = x") == 1.0
    assert score("$\\boxed{x + y = 0}$", "y = x") == 0.0


@pytest.mark.parametrize("completion", ["The value is 5 or 6.", "It could be 5, 6, or 7", "answer: 5 or 6",
                                        "I think it is 5 or maybe 6"])
def test_hedging_in_prose_earns_nothing(completion):
    assert verifiers.verify("math", completion=completion, reference="6").reward == 0.0


def test_plain_prose_answers():
    assert score("The value is 6.", "6") == 1.0
    assert score("so the number is 10 which is 1,000.99m²", "1000.99") == 1.0


def test_cut_never_hides_an_unclosed_reasoning_block():
    completion = "<think>" + "thinking " * 10_000 + "\\boxed{42}"
    verdict = verifiers.verify("math", completion=completion, reference="42")
    assert verdict.status == Status.wrong_format


@pytest.mark.parametrize("completion", ["\\boxed{3", "so \\boxed{3} then the answer is \\boxed{35"])
def test_answer_cut_off_inside_a_box_is_no_answer(completion):
    verdict = verifiers.verify("math", completion=completion, reference="3")
    assert verdict.status == Status.wrong_format and "cut off" in verdict.message


def test_undecidable_items_of_a_list_are_not_errors():
    verdict = verifiers.verify("math", completion="$${2, 3, 5, 7, 13}$$", reference="$f(x)$")
    assert verdict.status == Status.ok and verdict.reward == 0.0
