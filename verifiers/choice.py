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
# A further letter joined to a stated one: "(B) or (C)", "B and C", "B, C", "B/C".
_JOINED = re.compile(r"\s*(?:,|/|&|\+|(?i:\s(?:or|and|and/or|plus)\s))\s*(?i:option\s*|choice\s*)?[\(\[]?\*{0,2}([A-Z])\b")
_LETTER_TOKEN = re.compile(r"(?<![A-Za-z\\])([A-Za-z])(?![A-Za-z])")
_CONNECTIVES = re.compile(r"(?i:\\text\s*\{\s*(?:or|and)\s*\}|\b(?:or|and|option|choice)\b)")


def _letters_in(answer: str, valid: set[str]) -> list[str]:
    """Letters in a short final answer (`\\boxed{B}`, `B or C`, `(B), (C)`); [] if it has other words."""
    cleaned = _CONNECTIVES.sub(" ", answer.replace(r"\text", " ").replace(r"\mathrm", " "))
    letters = [m.group(1).upper() for m in _LETTER_TOKEN.finditer(cleaned)]
    rest = _LETTER_TOKEN.sub(" ", cleaned).strip(" \t\n()[]{}.,;:/&+*$")
    if rest or not letters or not all(letter in valid for letter in letters):
        return []
    return letters


def _with_joined(text: str, match: re.Match, valid: set[str]) -> list[str]:
    """The stated letter and every letter joined to it right after ("(B) or (C)")."""
    found, pos = [match.group(1).upper()], match.end()
    while text[pos:pos + 1] in (")", "]", "*") and pos < len(text):
        pos += 1
    while (joined := _JOINED.match(text, pos)) is not None and joined.group(1).upper() in valid:
        found.append(joined.group(1).upper())
        pos = joined.end()
        while text[pos:pos + 1] in (")", "]", "*") and pos < len(text):
            pos += 1
    return found


def extract_choice(text: str, letters: str) -> tuple[str | None, str, list[str]]:
    """(letter, where it came from, every distinct candidate seen at that level).

    Several different letters at the deciding level (however joined: "(B) or (C)", `\\boxed{B, C}`)
    are all candidates, so the caller can refuse the hedge."""
    valid = set(letters.upper())
    boxed = [_letters_in(b, valid) for b in boxed_contents(text, max_len=200)]  # a letter answer is short
    boxed = [found for found in boxed if found]
    if boxed:  # every box counts: "\\boxed{A} ... \\boxed{C}" is a hedge too
        return boxed[-1][-1], "boxed", sorted({letter for found in boxed for letter in found})
    markers = sorted((m for pattern in _MARKERS for m in re.finditer(pattern, text) if m.group(1).upper() in valid),
                     key=lambda m: m.start())
    if markers:  # every stated answer counts: "Answer: A. Or maybe the answer is C." is a hedge
        stated = [letter for m in markers for letter in _with_joined(text, m, valid)]
        return _with_joined(text, markers[-1], valid)[0], "marker", sorted(set(stated))
    named = [m.group(1).upper() for m in re.finditer(_PARENTHESISED, text) if m.group(1).upper() in valid]
    if named:
        return named[-1], "parenthesised", sorted(set(named))
    bare = _letters_in(text.strip(), valid) if len(text) <= 200 else []
    if bare:
        return bare[-1], "whole", sorted(set(bare))
    return None, "none", []


class ChoiceVerifier(Verifier):
    name = "choice"
    version = 2
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
        if len(candidates) > 1:  # hedging: several different final answers earn nothing, however phrased
            return Verdict.scored(0.0, message="several different options given", details=details)
        return Verdict.scored(1.0 if letter in reference else 0.0, details=details)
