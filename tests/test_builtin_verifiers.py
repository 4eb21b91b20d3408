"""The built-in rule verifiers through the Python API, including answers that try to game them."""

from __future__ import annotations

import pytest

import verifiers
from verifiers import Status


def v(name, completion, reference=None, **params):
    return verifiers.verify(name, completion=completion, reference=reference, params=params)


class TestExact:
    def test_normalisation_options(self):
        assert v("exact", "  New   York ", "new york").reward == 1.0
        assert v("exact", "New York", "new york", case_sensitive=True).reward == 0.0
        assert v("exact", "New York!", "new york", ignore_punctuation=True).reward == 1.0
        assert v("exact", "New York!", "new york").reward == 0.0
        assert v("exact", "NewYork", "new york", whitespace="remove").reward == 1.0

    def test_only_text_after_reasoning_counts(self):
        assert v("exact", "<think>paris? no, lyon</think>Paris", "paris").reward == 1.0
        assert v("exact", "<think>paris</think>Lyon", "paris").reward == 0.0

    def test_reference_shape(self):
        assert v("exact", "x", 5).status == Status.invalid_input
        assert v("exact", "b", ["a", "b"]).reward == 1.0


class TestRegex:
    def test_modes(self):
        assert v("regex", "abc123", r"[a-z]+\d+").reward == 1.0
        assert v("regex", "xx abc123 yy", r"[a-z]+\d+").reward == 0.0
        assert v("regex", "xx abc123 yy", r"[a-z]+\d+", mode="search").reward == 1.0
        assert v("regex", "ABC", "abc", ignore_case=True).reward == 1.0

    def test_bad_pattern_is_invalid_input(self):
        verdict = v("regex", "x", "(unclosed")
        assert verdict.status == Status.invalid_input and "regular expression" in verdict.message


class TestChoice:
    @pytest.mark.parametrize("text", [
        "(B)", "B", "Answer: B", "**Answer:** (B)", r"so \boxed{B}", r"\boxed{\text{B}}",
        "The correct option is B.", "After checking every option, the answer is B.", "Option B is correct.",
    ])
    def test_formats(self, text):
        assert v("choice", text, "B").reward == 1.0

    def test_hedging_earns_nothing(self):
        verdict = v("choice", "Answer: A. Hmm, or maybe the answer is C.", "C")
        assert verdict.reward == 0.0 and verdict.details["candidates"] == ["A", "C"]
        assert v("choice", r"\boxed{A} \boxed{C}", "C").reward == 0.0

    def test_lowercase_words_are_not_letters(self):
        assert v("choice", "the answer is a triangle", "A").status == Status.wrong_format

    def test_invalid_letters(self):
        assert v("choice", "Answer: E", "B", letters="ABCD").status == Status.wrong_format
        assert v("choice", "B", "Z", letters="ABCD").status == Status.invalid_input


class TestNumeric:
    @pytest.mark.parametrize("text,ref", [
        ("1,234,567", "1234567"), ("-3/4", "-0.75"), (r"\boxed{\frac{3}{4}}", "0.75"), ("2.5e3", "2500"),
        ("The answer is 42.", "42"), ("50%", "0.5"), ("50%", "50"), ("x = .5", "0.5"), ("−7", "-7"),
    ])
    def test_accepts(self, text, ref):
        assert v("numeric", text, ref).reward == 1.0

    def test_tolerance(self):
        assert v("numeric", "3.14159", "3.14159265", rel_tol=1e-6).reward == 1.0
        assert v("numeric", "3.14", "3.14159265", rel_tol=1e-6).reward == 0.0
        assert v("numeric", "3.14", "3.14159265", abs_tol=0.01).reward == 1.0

    def test_big_integers_are_exact(self):
        assert v("numeric", str(2**100 + 1), str(2**100)).reward == 0.0
        assert v("numeric", str(2**100), str(2**100)).reward == 1.0

    def test_percent_modes(self):
        assert v("numeric", "50%", "50", percent="fraction").reward == 0.0
        assert v("numeric", "50%", "0.5", percent="number").reward == 0.0

    def test_last_number_and_missing(self):
        assert v("numeric", "first 3 then 4", "4").reward == 1.0
        assert v("numeric", "no digits here", "4").status == Status.wrong_format
        assert v("numeric", "1e999999999", "1").status == Status.wrong_format


class TestFormat:
    def test_think_then_answer(self):
        assert v("format", "<think>work</think>\n<answer>4</answer>").reward == 1.0
        assert v("format", "<answer>4</answer><think>work</think>").reward == 0.0
        assert v("format", "<think></think><answer>4</answer>").reward == 0.0
        assert v("format", "<think>a</think><think>b</think><answer>4</answer>").reward == 0.0

    def test_custom_schema(self):
        assert v("format", "<think>w</think> The answer is 4", tags=["think"], require_text_after=True).reward == 1.0
        assert v("format", "<think>w</think>", tags=["think"], require_text_after=True).reward == 0.0
        assert v("format", "intro <plan>p</plan>", tags=["plan"], allow_text_outside=True).reward == 1.0
        assert v("format", "x", tags=["<script>"]).status == Status.invalid_input


class TestComposite:
    PARAMS = {"parts": [{"verifier": "numeric", "weight": 0.9}, {"verifier": "format", "weight": 0.1,
                                                                   "use_item_reference": False}]}

    def test_weighted_sum_with_components(self):
        verdict = verifiers.verify("composite", "<think>w</think><answer>4</answer>", "4", self.PARAMS)
        assert verdict.reward == pytest.approx(1.0) and verdict.components == {"numeric": 1.0, "format": 1.0}
        verdict = verifiers.verify("composite", "<think>w</think><answer>5</answer>", "4", self.PARAMS)
        assert verdict.reward == pytest.approx(0.1) and verdict.components == {"numeric": 0.0, "format": 1.0}

    def test_part_failures_are_not_hidden(self):
        params = {"parts": [{"verifier": "numeric"}, {"verifier": "missing"}]}
        verdict = verifiers.verify("composite", "4", "4", params)
        assert verdict.status == Status.invalid_input and "missing" in verdict.message

    def test_duplicate_component_names_rejected(self):
        params = {"parts": [{"verifier": "exact"}, {"verifier": "exact"}]}
        assert verifiers.verify("composite", "a", "a", params).status == Status.invalid_input
