"""`math`: final-answer equivalence for math problems."""

from __future__ import annotations

from typing import Any

from verifiers.base import Context, Verifier
from verifiers.contract import Status, Verdict
from verifiers.math_verifier.decide import decide, reference_for
from verifiers.math_verifier.engine import warm
from verifiers.math_verifier.extraction import Extraction, extract, extract_choice, visible_text
from verifiers.math_verifier.params import MathParams
from verifiers.math_verifier.vote import majority_vote


def reference_text(reference: Any) -> str:
    """A reference is a string or a number (`42`, `0.5`)."""
    if isinstance(reference, bool) or reference is None:
        raise ValueError("reference must be a string or a number")
    if isinstance(reference, (int, float)):
        return repr(reference) if isinstance(reference, float) else str(reference)
    if isinstance(reference, str) and reference.strip():
        return reference
    raise ValueError("reference must be a non-empty string or a number")


class MathVerifier(Verifier):
    name = "math"
    version = 2
    description = ("Math final-answer equivalence: extracts the last \\boxed{} / final answer and compares it "
                   "exactly with the reference (numbers, fractions, expressions, sets, intervals, tuples, "
                   "matrices, equations, inequalities), with math-verify/sympy as a guarded fallback.")
    Params = MathParams

    def __init__(self) -> None:
        warm()

    def check_reference(self, reference: Any, params: MathParams) -> str:
        return reference_text(reference)

    def vote(self, completions: list[str], params: MathParams, ctx: Context) -> Verdict:
        return majority_vote(completions, params)

    def verify(self, completion: str, reference: Any, params: MathParams, ctx: Context | None = None) -> Verdict:
        if ctx is not None and ctx.remaining() <= 0:
            return Verdict.failed(Status.timeout, "deadline passed before scoring started")
        return score_completion(completion, reference_text(reference), params)


def score_completion(completion: str, reference: str, params: MathParams) -> Verdict:
    details: dict[str, Any] = {}
    # Reasoning tags are located in the whole completion (one linear scan), then the answer part is cut.
    visible, note = visible_text(completion, params.after_reasoning)
    if note:
        details["reasoning"] = note
    if visible is None:
        return Verdict.failed(Status.wrong_format, "reasoning block never closed: no final answer", details=details)
    if len(visible) > params.max_chars:
        details["truncated"] = f"answer text cut from {len(visible)} to its last {params.max_chars} characters"
        visible = visible[-params.max_chars:]
    found = extract(visible, params.extraction)
    if found.answer is None and reference_for(reference, params).choice is not None:
        letter = extract_choice(visible)
        if letter is not None:
            found = Extraction(letter, "choice")
    details["source"] = found.source
    if found.answer is None:
        return Verdict.failed(Status.wrong_format, found.note or "no answer found", details=details)
    details["extracted"] = found.answer[:500]
    if found.parts > 1:
        details["joined_parts"] = found.parts
    if found.other_boxes:
        details["earlier_boxes"] = [b[:100] for b in found.other_boxes[:5]]
        if params.several_boxed == "reject":
            details["reason"] = "several different boxed answers"
            return Verdict.scored(0.0, details=details, components={"correct": 0.0})
    decision = decide(reference, found.answer, params)
    details["method"] = decision.method
    if decision.parsed is not None:
        details["parsed"] = decision.parsed
    if decision.reason:
        details["reason"] = decision.reason
    if decision.notes:
        details["notes"] = list(decision.notes)
    if decision.equal is None:
        return Verdict.failed(Status.wrong_format, f"answer could not be parsed: {decision.reason}", details=details)
    reward = 1.0 if decision.equal else 0.0
    return Verdict.scored(reward, details=details, components={"correct": reward})
