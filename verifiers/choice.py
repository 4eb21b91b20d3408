r"""`choice`: multiple-choice letters from "(B)", "Answer: B", `\boxed{B}`, "the correct option is B"."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from verifiers.base import Context, Verifier
from verifiers.contract import Status, Verdict
from verifiers.text import after_reasoning, boxed_contents


class ChoiceParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    letters: str = Field("ABCDEFGHIJ", description="the valid option letters")
    after_reasoning: bool = True


# Explicit final-answer statements, strongest evidence after \boxed{}.
# Words match in any case; the letter itself must be a capital ("the answer is a triangle" is no "A").
_MARKERS = [
    r"(?i:answer\s*(?:is|:|=)?\s*(?:option\s*)?)[\(\[]?\*{0,2}([A-Z])\b",
    r"(?i:(?:correct|right|best)\s+(?:answer|option|choice)\s*(?:is|:)?\s*)[\(\[]?\*{0,2}([A-Z])\b",
    r"(?i:(?:option|choice)\s+)[\(\[]?([A-Z])[\)\]]?(?i:\s+is\s+(?:the\s+)?(?:correct|right|answer))",
]
_PARENTHESISED = r"[\(\[]([A-Z])[\)\]]"


def extract_choice(text: str, letters: str) -> tuple[str | None, str, list[str]]:
    """(letter, where it came from, every distinct candidate seen at that level)."""
    valid = set(letters.upper())
    boxed = [b.strip().strip("()[]{}. ").replace(r"\text", "").strip("{} ") for b in boxed_contents(text)]
    boxed = [b.upper() for b in boxed if len(b) == 1 and b.upper() in valid]
    if boxed:
        return boxed[-1], "boxed", sorted(set(boxed))
    for source, patterns in (("marker", _MARKERS), ("parenthesised", [_PARENTHESISED])):
        found: list[str] = []
        for pattern in patterns:
            found += [m.group(1) for m in re.finditer(pattern, text)]
        found = [f.upper() for f in found if f.upper() in valid]
        if found:
            return found[-1], source, sorted(set(found))
    bare = text.strip().strip(".*():[] ").upper()
    if len(bare) == 1 and bare in valid:
        return bare, "whole", [bare]
    return None, "none", []


class ChoiceVerifier(Verifier):
    name = "choice"
    version = 1
    description = "Multiple-choice letter: from \\boxed{B}, 'Answer: B', 'the correct option is B', '(B)'."
    Params = ChoiceParams

    def check_reference(self, reference: Any, params: ChoiceParams) -> Any:
        refs = [reference] if isinstance(reference, str) else reference
        if not isinstance(refs, list) or not refs or not all(
            isinstance(r, str) and len(r.strip()) == 1 and r.strip().upper() in params.letters.upper() for r in refs
        ):
            raise ValueError(f"reference must be one letter (or a list of letters) from {params.letters}")
        return [r.strip().upper() for r in refs]

    def verify(self, completion: str, reference: Any, params: ChoiceParams, ctx: Context) -> Verdict:
        text = after_reasoning(completion) if params.after_reasoning else completion
        letter, source, candidates = extract_choice(text, params.letters)
        details = {"extracted": letter, "source": source, "candidates": candidates}
        if letter is None:
            return Verdict.failed(Status.wrong_format, "no option letter found", details=details)
        if len(candidates) > 1:  # hedging: several different final answers earn nothing
            return Verdict.scored(0.0, message="several different options given", details=details)
        return Verdict.scored(1.0 if letter in reference else 0.0, details=details)
