"""Comparing what a program produced with what was expected. Runs in the trusted parent."""

from __future__ import annotations

import math
from typing import Any, Literal

CompareMode = Literal["exact", "lines", "tokens", "float"]


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _numbers_close(a: str, b: str, tolerance: float) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance)


def outputs_match(expected: str, got: str, mode: CompareMode = "lines", tolerance: float = 1e-6) -> bool:
    """`exact`: identical; `lines`: per line, trailing spaces and trailing blank lines ignored;
    `tokens`: whitespace-insensitive; `float`: tokens, numbers equal within `tolerance` (abs or rel)."""
    if mode == "exact":
        return expected == got
    if mode == "lines":
        return _lines(expected) == _lines(got)
    want, have = expected.split(), got.split()
    if mode == "tokens":
        return want == have
    return len(want) == len(have) and all(w == h or _numbers_close(w, h, tolerance) for w, h in zip(want, have))


def values_match(expected: Any, got: Any, tolerance: float = 1e-6, int_tolerance: float | None = None) -> bool:
    """Structural equality of JSON values (a tuple arrives as a list; bool is not a number).

    An expected int needs exactly that int: a float is accepted for it only within
    `int_tolerance`, when the reference asks for one (`2**60 + 1` is not `float(2**60 + 1)`).
    An expected float accepts an int or float within `tolerance` (or `int_tolerance` if set)."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        if isinstance(expected, int) and isinstance(got, int):
            return expected == got
        if isinstance(expected, int) and int_tolerance is None:
            return expected == got  # exact: Python compares int and float without rounding
        return _floats_close(expected, got, tolerance if int_tolerance is None else int_tolerance)
    if isinstance(expected, list) and isinstance(got, list):
        return len(expected) == len(got) and all(values_match(e, g, tolerance, int_tolerance)
                                                 for e, g in zip(expected, got))
    if isinstance(expected, dict) and isinstance(got, dict):
        return expected.keys() == got.keys() and all(values_match(expected[k], got[k], tolerance, int_tolerance)
                                                     for k in expected)
    return type(expected) is type(got) and expected == got


def _floats_close(expected: int | float, got: int | float, tolerance: float) -> bool:
    try:
        x, y = float(expected), float(got)
    except OverflowError:  # an int too large for a float: only itself matches
        return expected == got
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance)


def clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


def first_difference(expected: str, got: str, limit: int = 200) -> dict[str, Any]:
    """Where two outputs first differ, as short excerpts, for humans reading verdict details."""
    want, have = _lines(expected), _lines(got)
    for number, (w, h) in enumerate(zip(want, have), start=1):
        if w != h:
            return {"line": number, "expected": clip(w, limit), "got": clip(h, limit)}
    number = min(len(want), len(have)) + 1
    if len(want) != len(have):
        return {"line": number, "expected": clip(want[number - 1] if len(want) >= number else "<end of output>", limit),
                "got": clip(have[number - 1] if len(have) >= number else "<end of output>", limit)}
    return {"expected": clip(expected, limit), "got": clip(got, limit)}
