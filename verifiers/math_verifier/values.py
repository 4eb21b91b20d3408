"""The exact answer shapes the parser produces and the comparator understands.

Scalars are sympy expressions built only from exact atoms (Integer, Rational, pi, E, I, sqrt,
symbols): a decimal like 0.25 becomes Rational(1, 4) with `approx=True`, so floating point never
decides between two exact values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import sympy


@dataclass(frozen=True)
class Scalar:
    expr: sympy.Basic
    approx: bool = False  # written with a decimal point: compared with the tolerance
    percent: bool = False  # written with %, percent, pct
    degrees: bool = False  # written with ^\circ, °, degrees
    huge: bool = False  # holds an unevaluated power/factorial too large to compute


@dataclass(frozen=True)
class Relation:
    """`a op b op c ...`: an equation, an inequality, or a chain of them."""

    parts: tuple["Value", ...]
    ops: tuple[str, ...]  # each of "=", "<", "<=", ">", ">=", "!=", "approx", "in"


@dataclass(frozen=True)
class Interval:
    lo: Scalar
    hi: Scalar
    left_closed: bool
    right_closed: bool


@dataclass(frozen=True)
class SetOf:
    """Union of intervals and finite sets (`[0,1) \\cup \\{3\\}`)."""

    parts: tuple["Value", ...]


@dataclass(frozen=True)
class FiniteSet:
    """Written with braces `\\{...\\}`: order does not matter."""

    items: tuple["Value", ...]


@dataclass(frozen=True)
class Tuple:
    """Written with parentheses or angle brackets: order matters. `(a, b)` may also be an open interval."""

    items: tuple["Value", ...]
    brackets: str = "()"


@dataclass(frozen=True)
class Listing:
    """Values separated by commas, `and`, `or`, or produced by `\\pm`: several answers."""

    items: tuple["Value", ...]
    from_pm: bool = False


@dataclass(frozen=True)
class Matrix:
    rows: tuple[tuple["Value", ...], ...]


@dataclass(frozen=True)
class Text:
    text: str  # case-folded words, single spaces


@dataclass(frozen=True)
class Choice:
    letter: str  # upper case A-J


Value = Union[Scalar, Relation, Interval, SetOf, FiniteSet, Tuple, Listing, Matrix, Text, Choice]


@dataclass
class Parsed:
    """A parsed answer with what the comparator needs to know about how it was written."""

    value: Value
    source_text: str  # the normalised text it came from
    notes: list[str] = field(default_factory=list)


def _safe_str(expr: sympy.Basic) -> str:
    try:
        return sympy.sstr(expr)
    except ValueError:  # an integer beyond Python's int->str digit limit
        return f"<number of about {len(bin(int(abs(expr.p))))*0.30103:.0f}+ digits>" if expr.is_Rational else "<large>"


def describe(value: Value) -> str:
    """Short human-readable form for verdict details."""
    if isinstance(value, Scalar):
        text = "<huge>" if value.huge else _safe_str(value.expr)
        return text[:200] + ("%" if value.percent else "") + ("°" if value.degrees else "")
    if isinstance(value, Relation):
        out = describe(value.parts[0])
        for op, part in zip(value.ops, value.parts[1:]):
            out += f" {op} {describe(part)}"
        return out
    if isinstance(value, Interval):
        return f"{'[' if value.left_closed else '('}{describe(value.lo)}, {describe(value.hi)}{']' if value.right_closed else ')'}"
    if isinstance(value, SetOf):
        return " ∪ ".join(describe(p) for p in value.parts)
    if isinstance(value, FiniteSet):
        return "{" + ", ".join(describe(i) for i in value.items) + "}"
    if isinstance(value, Tuple):
        return value.brackets[0] + ", ".join(describe(i) for i in value.items) + value.brackets[1]
    if isinstance(value, Listing):
        return ", ".join(describe(i) for i in value.items)
    if isinstance(value, Matrix):
        return "[" + "; ".join(", ".join(describe(c) for c in row) for row in value.rows) + "]"
    if isinstance(value, Text):
        return repr(value.text)
    return f"choice {value.letter}"
