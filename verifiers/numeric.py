"""`numeric`: a number compared within tolerance; fractions, thousands separators, percent.

Exact arithmetic (Fractions) throughout, so big integers and exact decimals never lose digits.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from verifiers.base import Context, Verifier
from verifiers.contract import Status, Verdict
from verifiers.text import after_reasoning, boxed_contents


class NumericParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rel_tol: float = Field(1e-6, ge=0, description="relative tolerance |a-b| <= rel_tol*|ref|")
    abs_tol: float = Field(0.0, ge=0, description="absolute tolerance")
    percent: Literal["number", "fraction", "either"] = Field(
        "either", description="'50%' means 50 ('number'), 0.5 ('fraction'), or either")
    exact_integers: bool = Field(True, description="integers against an integer reference compare exactly")
    after_reasoning: bool = True


_NUMBER = re.compile(
    r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?:\s*/\s*\d+)?\s*%?"
    r"|(?<![\w.])[-+−]?\.\d+(?:[eE][-+]?\d+)?\s*%?"
)
_MAX_EXPONENT = 1000  # refuse 1e99999999: exact arithmetic on it would take forever


def parse_number(text: str) -> tuple[Fraction, bool] | None:
    """(value, had a percent sign), or None. Accepts `1,234.5`, `-3/4`, `2.5e3`, `50%`, `\\frac{3}{4}`."""
    s = text.strip().replace("−", "-").replace("$", "").replace("\\%", "%").replace("\\!", "")
    frac = re.fullmatch(r"([-+]?)\\[dt]?frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}", s)
    if frac:
        sign, num, den = frac.groups()
        return (Fraction(int(num), int(den)) * (-1 if sign == "-" else 1), False) if int(den) else None
    percent = s.endswith("%")
    s = s.rstrip("%").strip()
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")
    try:
        if "/" in s:
            num, den = (p.strip() for p in s.split("/", 1))
            value = Fraction(int(num), int(den))
        else:
            exponent = re.search(r"[eE]([-+]?\d+)$", s)
            if exponent and abs(int(exponent.group(1))) > _MAX_EXPONENT:
                return None
            value = Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None
    return value, percent


def candidates(value: Fraction, percent: bool, mode: str) -> list[Fraction]:
    if not percent:
        return [value]
    return {"number": [value], "fraction": [value / 100], "either": [value, value / 100]}[mode]


def extract_number(text: str) -> tuple[str | None, str]:
    boxed = boxed_contents(text)
    if boxed:
        return boxed[-1], "boxed"
    marker = list(re.finditer(r"answer\s*(?:is|:|=)\s*", text, re.IGNORECASE))
    if marker:
        found = _NUMBER.search(text, marker[-1].end())
        if found:
            return found.group(0), "marker"
    numbers = _NUMBER.findall(text)
    return (numbers[-1], "last_number") if numbers else (None, "none")


def within(a: Fraction, b: Fraction, params: NumericParams) -> bool:
    if params.exact_integers and a.denominator == 1 and b.denominator == 1:
        return a == b  # 2**100 + 1 is not 2**100, however small the relative gap
    tol = max(Fraction(params.rel_tol) * abs(b), Fraction(params.abs_tol))
    return abs(a - b) <= tol


class NumericVerifier(Verifier):
    name = "numeric"
    version = 1
    description = "A number within relative/absolute tolerance; fractions, thousands separators, percent."
    Params = NumericParams

    def check_reference(self, reference: Any, params: NumericParams) -> Any:
        if isinstance(reference, bool) or not isinstance(reference, (int, float, str)):
            raise ValueError("reference must be a number or a numeric string")
        if parse_number(str(reference)) is None:
            raise ValueError(f"reference {reference!r} is not a number")
        return str(reference)

    def verify(self, completion: str, reference: Any, params: NumericParams, ctx: Context) -> Verdict:
        text = after_reasoning(completion) if params.after_reasoning else completion
        raw, source = extract_number(text)
        parsed = parse_number(raw) if raw is not None else None
        details: dict[str, Any] = {"extracted": raw, "source": source}
        if parsed is None:
            return Verdict.failed(Status.wrong_format, "no number found in the answer", details=details)
        ref_value, ref_percent = parse_number(reference)  # type: ignore[misc]
        refs = candidates(ref_value, ref_percent, params.percent)
        got = candidates(*parsed, params.percent)
        details["value"] = str(got[0])
        ok = any(within(g, r, params) for g in got for r in refs)
        return Verdict.scored(1.0 if ok else 0.0, details=details)
