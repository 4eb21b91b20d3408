"""One decision: does an extracted answer match a reference? Cached per process.

A GRPO step scores k samples of a prompt against one reference, and many samples repeat the same
final answer, so the reference is parsed once (`reference_for`) and each distinct
(reference, answer, params) decision is made once (`decide`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from verifiers.math_verifier import cost_guards
from verifiers.math_verifier.compare import Undecided, is_hedge, single_valued, values_equal
from verifiers.math_verifier.engine import engine_equal
from verifiers.math_verifier.extraction import extract_reference
from verifiers.math_verifier.params import MathParams
from verifiers.math_verifier.parser import ParseError, UnitsNotAllowed, choice_letter, parse_answer
from verifiers.math_verifier.values import Choice, Parsed, Text, describe


_NAMED_CHOICES = re.compile(r"\(([A-J])\)|(?<![A-Za-z\\])([A-J])(?![A-Za-z])")
# Forms that state several alternatives at once: logical or, a cases environment, "or"
# in words. Against a reference that states one value they are hedging, whatever a parser makes of them.
_MULTI_VALUED = re.compile(
    r"\\(?:lor|vee)(?![A-Za-z])|\\begin\s*\{\s*(?:cases|dcases|rcases)\*?\s*\}"
    r"|\\(?:text|textrm|mathrm|mbox|textnormal|operatorname)\s*\{\s*(?:or|and|either)\s*\}"
    r"|(?<![A-Za-z\\])(?:or|either)(?![A-Za-z])|∨", re.IGNORECASE)


@dataclass(frozen=True)
class Reference:
    text: str  # the answer part of the reference
    parsed: Parsed | None
    choice: str | None  # a multiple-choice letter reference
    problem: str | None  # why it could not be parsed exactly


@dataclass(frozen=True)
class Decision:
    equal: bool | None  # None: the answer could not be understood at all
    method: str  # identical, exact, choice, engine, too_costly, unparsed
    reason: str = ""
    parsed: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


@lru_cache(maxsize=4096)
def reference_for(reference: str, params: MathParams) -> Reference:
    text = extract_reference(reference).answer or reference.strip()
    letter = choice_letter(text) if len(text) <= 20 else None
    if letter and (letter in "ABCDEFGHIJ" and (text.strip("$ ").startswith(("(", "\\text")) or text.strip("$ ").isupper())):
        return Reference(text, Parsed(Choice(letter), letter), letter, None)
    try:
        return Reference(text, parse_answer(text, allow_units=params.allow_units), None, None)
    except (ParseError, cost_guards.TooCostly, RecursionError) as exc:
        return Reference(text, None, None, str(exc))


@lru_cache(maxsize=65536)
def decide(reference: str, answer: str, params: MathParams) -> Decision:
    ref = reference_for(reference, params)
    if ref.choice is not None:
        letter = choice_letter(answer)
        if letter is None:
            named = {m.group(1) or m.group(2) for m in _NAMED_CHOICES.finditer(answer)}
            if len(named) > 1:
                return Decision(False, "hedged", "several choice letters given", parsed=", ".join(sorted(named)))
            if not named:
                return Decision(False, "choice", "answer is not a choice letter")
            letter = named.pop()
        return Decision(letter == ref.choice, "choice", parsed=letter)
    if _MULTI_VALUED.search(answer) and ref.parsed is not None and single_valued(ref.parsed.value) \
            and not _MULTI_VALUED.search(ref.text):
        return Decision(False, "hedged", "several alternatives given where one answer is expected")
    try:
        ans = parse_answer(answer, allow_units=params.allow_units)
    except cost_guards.TooCostly as exc:
        if ref.parsed is not None and _same_text(ref.text, answer):
            return Decision(True, "identical")
        return Decision(False, "too_costly", f"answer not evaluated: {exc}")
    except UnitsNotAllowed as exc:
        return Decision(False, "units", str(exc))
    except (ParseError, RecursionError) as exc:
        return _fallback(ref, answer, params, f"exact parser: {exc}")
    if ref.parsed is not None and ans.source_text == ref.parsed.source_text:
        return Decision(True, "identical", parsed=describe(ans.value), notes=tuple(ans.notes))
    if ref.parsed is None:
        return _fallback(ref, answer, params, f"reference: {ref.problem}")
    if isinstance(ans.value, Text) and not isinstance(ref.parsed.value, Text):
        return Decision(None, "unparsed", "the answer is words where a mathematical value is expected")
    try:
        equal = values_equal(ref.parsed.value, ans.value, params)
        if not equal and is_hedge(ref.parsed.value, ans.value):
            return Decision(False, "hedged", "several answers given where one value is expected",
                            parsed=describe(ans.value))
    except cost_guards.TooCostly as exc:
        return Decision(False, "too_costly", f"answer not evaluated: {exc}", parsed=describe(ans.value))
    except Undecided as exc:
        return _fallback(ref, answer, params, str(exc), parsed=describe(ans.value))
    except (TypeError, ValueError, ZeroDivisionError, RecursionError) as exc:
        return _fallback(ref, answer, params, f"exact comparison: {type(exc).__name__}", parsed=describe(ans.value))
    return Decision(equal, "exact", parsed=describe(ans.value), notes=tuple(ans.notes))


def _same_text(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


def _fallback(ref: Reference, answer: str, params: MathParams, why: str, parsed: str | None = None) -> Decision:
    if not params.engine_fallback:
        return Decision(None if parsed is None else False, "unparsed", why, parsed=parsed)
    try:
        equal = engine_equal(ref.text, answer, tolerance=params.tolerance, strict=params.strict,
                             set_relation=params.set_relation)
    except cost_guards.TooCostly as exc:
        if _same_text(ref.text, answer):
            return Decision(True, "identical")
        return Decision(False, "too_costly", f"answer not evaluated: {exc}", parsed=parsed)
    if equal is None:
        if _same_text(ref.text, answer):
            return Decision(True, "identical")
        return Decision(None if parsed is None else False, "unparsed", why, parsed=parsed)
    return Decision(equal, "engine", why, parsed=parsed)
