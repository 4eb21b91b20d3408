"""The symbolic fallback: math-verify + sympy for answers the exact paths do not understand.

math-verify's own timeouts use `signal.alarm`, which only works on the main thread and silently
returns False elsewhere, so both of its timeouts are disabled here (`parsing_timeout=None`,
`timeout_seconds=None`). Cost is bounded instead by `cost_guards.engine_risk` before the call, and
by the worker process deadline of the runtime around it.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from typing import Any

import math_verify  # imported with the verifier so that worker fork servers start with it loaded

from verifiers.math_verifier import cost_guards


class _DropTimeoutDisabledWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropTimeoutDisabledWarning())


def _math_verify() -> Any:
    return math_verify


@lru_cache(maxsize=1)
def warm() -> None:
    """Build the LaTeX grammar once (~0.3 s). Called when the verifier is created, so pool
    workers forked from a preloaded parent do not pay it on their first fallback."""
    engine_parse("\\frac{1}{2}")


@lru_cache(maxsize=8192)
def engine_parse(text: str) -> tuple:
    """math-verify's parse of one extracted answer (math delimiters added), cached per process."""
    mv = _math_verify()
    candidates = [f"${text}$", text] if "$" not in text and "\\(" not in text else [text]
    for candidate in candidates:
        try:
            parsed = mv.parse(candidate, parsing_timeout=None)
        except Exception:  # noqa: BLE001 - a parser crash is "could not parse"
            parsed = []
        if parsed:
            return tuple(parsed)
    return ()


def engine_equal(ref_text: str, ans_text: str, *, tolerance: float, strict: bool, set_relation: bool) -> bool | None:
    """True/False from math-verify, or None when either side does not parse. Raises TooCostly."""
    for text in (ref_text, ans_text):
        risk = cost_guards.engine_risk(text)
        if risk:
            raise cost_guards.TooCostly(risk)
    gold, pred = engine_parse(ref_text), engine_parse(ans_text)
    if not gold or not pred:
        return None
    rounding = max(1, min(15, round(-math.log10(tolerance)))) if tolerance > 0 else 15
    try:
        return bool(_math_verify().verify(list(gold), list(pred), float_rounding=rounding, strict=strict,
                                          allow_set_relation_comp=set_relation, timeout_seconds=None))
    except Exception:  # noqa: BLE001
        return None
