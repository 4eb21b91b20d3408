"""Cheap recognition of inputs that would make a symbolic engine blow up.

Everything here is linear in the input and runs before any sympy or math-verify work, so a
hostile answer (`9^{9^{9^{9}}}`, `100000!`, 5,000 nested braces) costs microseconds, not seconds.
"""

from __future__ import annotations

import math
import re

MAX_DIGITS = 100_000  # exact integers larger than this many digits are not built
MAX_FACTORIAL = 20_000  # n! is evaluated exactly up to this n (~77,000 digits)
MAX_NESTING = 40  # brackets/braces deeper than this are refused
MAX_ENGINE_CHARS = 1_000  # the symbolic fallback only sees answers up to this length
MAX_ENGINE_POWERS = 12  # ... with at most this many exponents


class TooCostly(Exception):
    """The input would cost too much to evaluate exactly; the message says why."""


def nesting_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")}]":
            depth = max(0, depth - 1)
    return deepest


def check_nesting(text: str) -> None:
    if nesting_depth(text) > MAX_NESTING:
        raise TooCostly(f"nesting deeper than {MAX_NESTING} levels")


def integer_power_digits(base: int, exponent: int) -> float:
    """Number of decimal digits of base**exponent, estimated without computing it."""
    if base in (0, 1, -1) or exponent <= 0:
        return 1.0
    return exponent * math.log10(abs(base)) + 1


def factorial_digits(n: int) -> float:
    return 1.0 if n < 2 else math.lgamma(n + 1) / math.log(10) + 1


_POWER = re.compile(r"\^|\*\*")
_BIG_FACTORIAL = re.compile(r"(\d{6,})\s*!|\\(?:factorial)")
_NESTED_EXPONENT = re.compile(r"\^\s*\{[^{}]*\^")


def engine_risk(text: str) -> str | None:
    """Why the symbolic fallback should not see `text`, or None when it is safe enough."""
    if len(text) > MAX_ENGINE_CHARS:
        return f"answer longer than {MAX_ENGINE_CHARS} characters for symbolic comparison"
    if nesting_depth(text) > MAX_NESTING // 2:
        return "deeply nested expression"
    if len(_POWER.findall(text)) > MAX_ENGINE_POWERS:
        return "too many exponents"
    if _NESTED_EXPONENT.search(text) or re.search(r"\^\s*\(?\s*\d+\s*\)?\s*(?:\^|\*\*)", text):
        return "power tower"
    if _BIG_FACTORIAL.search(text):
        return "huge factorial"
    if re.search(r"\d{400,}", text):
        return "very long number"
    return None
