"""Exact equivalence of parsed answers, reference first.

Integers and fractions are compared exactly; irrational constants by 50-digit evaluation, with
agreement confirmed by sympy; polynomials and rational functions exactly; other expressions in
variables by evaluation at fixed rational points. A tolerance applies only when a side was
written as a decimal approximation of a value it cannot write exactly.
The comparison is asymmetric where symmetry would let answers game it: an inequality reference
accepts its interval, but an interval reference accepts an inequality only with `set_relation`.
"""

from __future__ import annotations

import random

import sympy

from verifiers.math_verifier import cost_guards
from verifiers.math_verifier.params import MathParams
from verifiers.math_verifier.values import (Choice, FiniteSet, Interval, Listing, Matrix, Relation, Scalar, SetOf,
                                            Text, Tuple, Value)

_DIGITS = 50
_EXACT_EPS = sympy.Rational(1, 10 ** 40)
# Positive test points: answers are compared where roots and logs are real (sqrt(x^2) counts as x).
_POINTS = (sympy.Rational(7, 13), sympy.Rational(23, 11), sympy.Rational(5, 7), sympy.Rational(31, 17))
MAX_ITEMS = 200


class Undecided(Exception):
    """The exact paths cannot decide; the symbolic fallback may."""


# -- scalars -------------------------------------------------------------------------------------

def _numeric(expr: sympy.Basic) -> sympy.Basic | None:
    try:
        value = expr.evalf(_DIGITS)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None
    if value.has(sympy.nan, sympy.zoo) or not value.is_number:
        return None
    return value


def _close(a: sympy.Basic, b: sympy.Basic, rel: sympy.Basic) -> bool | None:
    na, nb = _numeric(a), _numeric(b)
    if na is None or nb is None:
        return None
    if na.has(sympy.oo, -sympy.oo) or nb.has(sympy.oo, -sympy.oo):
        return na == nb
    # Relative for large values, absolute below 1 (like rounding to a number of decimals).
    scale = max(abs(na), abs(nb), sympy.Float(1)) if rel > _EXACT_EPS else max(abs(na), abs(nb), sympy.Float(1e-300))
    try:
        return bool(abs(na - nb) <= rel * scale)
    except TypeError:
        return None


def exprs_equal(a: sympy.Basic, b: sympy.Basic, approx: bool, params: MathParams) -> bool:
    if a == b:
        return True
    tol = sympy.Rational(params.tolerance) if approx else _EXACT_EPS
    fa, fb = a.free_symbols, b.free_symbols
    if fa != fb and not (fa <= fb or fb <= fa):  # sin^2 x + cos^2 x vs 1 is still an identity
        if params.strict or len(fa) != 1 or len(fb) != 1:
            return False
        b = b.subs(next(iter(fb)), next(iter(fa)))
        fb = fa
    fa = fa | fb
    if not fa:
        if a.is_Rational and b.is_Rational:
            return a == b if not approx else abs(a - b) <= tol * max(abs(a), abs(b), 1)
        close = _close(a, b, tol)
        if close is None:
            raise Undecided("could not evaluate numerically")
        if close and not approx:
            return _exactly_zero(a - b)
        return close
    exact = _polynomial_difference_is_zero(a, b)
    if exact is not None:
        return exact
    # Other expressions in variables: identity testing at fixed random-looking rational points.
    symbols = sorted(fa, key=lambda s: s.name)
    rng = random.Random(len(symbols))
    decided = 0
    for point in _POINTS:
        values = {s: point + sympy.Rational(rng.randint(0, 97), 101) for s in symbols}
        try:
            va, vb = a.subs(values), b.subs(values)
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        close = _close(va, vb, tol)
        if close is None:
            continue
        if not close:
            return False
        decided += 1
    if decided >= 2:
        return True
    raise Undecided("could not evaluate at test points")


def _exactly_zero(difference: sympy.Basic) -> bool:
    """Two exact constants agree to 40 digits: prove it when sympy can (`sqrt(2) + 10^-60` is not `sqrt(2)`)."""
    if difference == 0:
        return True
    if difference.is_Rational:
        return False
    if sympy.count_ops(difference) > 300:
        return True  # too large to prove cheaply; 40 agreeing digits stand
    proven = difference.equals(0)
    return True if proven is None else bool(proven)


def _polynomial_difference_is_zero(a: sympy.Basic, b: sympy.Basic) -> bool | None:
    """For polynomials and rational functions of modest size the question is decided exactly."""
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    try:
        if not (a.is_rational_function(*symbols) and b.is_rational_function(*symbols)):
            return None
        if sympy.count_ops(a) + sympy.count_ops(b) > 200 or any(
                p.exp.is_Integer and abs(int(p.exp)) > 60 for p in (a - b).atoms(sympy.Pow)):
            return None
        return sympy.cancel(sympy.together(a - b)) == 0
    except (TypeError, ValueError, ZeroDivisionError, sympy.PolynomialError):
        return None


def _terminating(expr: sympy.Basic) -> bool:
    """A rational with a finite decimal expansion (denominator 2^a 5^b)."""
    if not expr.is_Rational:
        return False
    q = int(expr.q)
    for p in (2, 5):
        while q % p == 0:
            q //= p
    return q == 1


def scalars_equal(ref: Scalar, ans: Scalar, params: MathParams) -> bool:
    if ref.huge or ans.huge:
        raise cost_guards.TooCostly("value too large to evaluate exactly")
    # A decimal answer is an approximation only of a value it cannot write exactly (1/3, pi):
    # against 2.5 or 80220828, "2.4999999" and "80220828.5" are simply different numbers.
    approx = ref.approx or (ans.approx and not _terminating(ref.expr))
    a, b = ref.expr, ans.expr
    candidates = [b]
    if ref.percent != ans.percent:  # 28% vs 0.28; 28% vs 28 is handled by the first candidate
        candidates.append(b * 100 if ref.percent else b / 100)
    if ref.degrees != ans.degrees:  # 90° vs pi/2
        candidates.append(b * 180 / sympy.pi if ref.degrees else b * sympy.pi / 180)
    return any(exprs_equal(a, c, approx, params) for c in candidates)


# -- relations -----------------------------------------------------------------------------------

def _is_label(value: Value) -> bool:
    """A left side that names what is being answered: x, a_3, f(x), |AB|, NO/BO, (p, q)."""
    if isinstance(value, Tuple):
        return all(_is_label(v) for v in value.items)
    if not isinstance(value, Scalar) or value.huge:
        return False
    expr = value.expr
    if not expr.free_symbols or expr.has(sympy.Add):  # x - y = 0 is an equation, not a name
        return False
    return all(n in (1, -1) for n in expr.atoms(sympy.Number))


def _constant(value: Value) -> bool:
    if isinstance(value, Scalar):
        return not value.expr.free_symbols
    if isinstance(value, (Tuple, Listing, FiniteSet)):
        return all(_constant(v) for v in value.items)
    return False


def simplify_relation(value: Value) -> Value:
    """Drop `\\approx` tails, shorten `=` chains, and turn `x \\in S` into S."""
    if not isinstance(value, Relation):
        return value
    parts, ops = list(value.parts), list(value.ops)
    if "approx" in ops:
        cut = ops.index("approx")
        if cut >= 1:
            parts, ops = parts[:cut + 1], ops[:cut]
        else:
            return simplify_relation(Relation(tuple(parts[1:]), tuple(ops[1:]))) if len(parts) > 2 else parts[-1]
    if ops == ["in"] and _is_label(parts[0]):
        return parts[1]
    if all(op == "=" for op in ops) and all(_constant(p) for p in parts[:-1]) and _constant(parts[-1]):
        return parts[-1]  # "2 + 2 = 4" written as a derivation (checked true first: `false_equation`)
    if len(parts) > 2 and all(op == "=" for op in ops):
        return Relation((parts[0], parts[-1]), ("=",)) if _constant(parts[-1]) else Relation(tuple(parts[-2:]), ("=",))
    return Relation(tuple(parts), tuple(ops))


def assigned_value(value: Value) -> Value | None:
    """`x = 3` -> 3 (the left side names the answer, the right side is a constant)."""
    if not (isinstance(value, Relation) and value.ops == ("=",) and _is_label(value.parts[0])):
        return None
    lhs, rhs = value.parts
    if _constant(rhs):
        return rhs
    # y = 3x^2 + 1, f(x) = 2x + 1: a named expression (the name does not occur on the right).
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar) and (
            lhs.expr.is_Symbol and lhs.expr not in rhs.expr.free_symbols
            or isinstance(lhs.expr, sympy.core.function.AppliedUndef) and not rhs.expr.has(lhs.expr.func)):
        return rhs
    return None


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _relation_difference(rel: Relation) -> tuple[str, sympy.Basic] | None:
    """a op b as (op, a - b) with op normalised to >, >=, =, != (a < b becomes b - a > 0)."""
    if len(rel.ops) != 1 or not all(isinstance(p, Scalar) for p in rel.parts):
        return None
    op = rel.ops[0]
    a, b = rel.parts[0].expr, rel.parts[1].expr
    if op in ("<", "<="):
        return _FLIP[op], b - a
    if op in (">", ">=", "=", "!="):
        return op, a - b
    return None


def _proportional(a: sympy.Basic, b: sympy.Basic, positive: bool, params: MathParams) -> bool:
    """a = c*b for a nonzero constant c (positive when the relation has a direction)."""
    if a.free_symbols != b.free_symbols:
        return False
    if not a.free_symbols:
        return False
    ratio = None
    symbols = sorted(a.free_symbols, key=lambda s: s.name)
    rng = random.Random(7)
    seen = 0
    for point in _POINTS:
        values = {s: point + sympy.Rational(rng.randint(0, 97), 101) for s in symbols}
        va, vb = _numeric(a.subs(values)), _numeric(b.subs(values))
        if va is None or vb is None or vb == 0:
            continue
        r = va / vb
        if ratio is None:
            ratio = r
        elif abs(r - ratio) > _EXACT_EPS * max(abs(r), 1):
            return False
        seen += 1
    if ratio is None or seen < 2 or ratio == 0:
        raise Undecided("could not evaluate the relation")
    return bool(ratio > 0) if positive else True


def relations_equal(ref: Relation, ans: Relation, params: MathParams) -> bool:
    ref_value, ans_value = assigned_value(ref), assigned_value(ans)
    if ref_value is not None and ans_value is not None:
        if params.strict and isinstance(ref.parts[0], Scalar) and isinstance(ans.parts[0], Scalar) \
                and ref.parts[0].expr.is_Symbol and ans.parts[0].expr.is_Symbol \
                and ref.parts[0].expr != ans.parts[0].expr:
            return False
        return values_equal(ref_value, ans_value, params)
    if ref_value is not None and isinstance(ref_value, Scalar) and not ref_value.expr.free_symbols:
        # `x = 2` is answered by 2 or x = 2, not by an equation still to solve (an echoed `2x + 3 = 7`).
        return False
    ref_iv, ans_iv = as_interval(ref), as_interval(ans)
    if ref_iv is not None and ans_iv is not None:
        return values_equal(ref_iv, ans_iv, params)
    rd, ad = _relation_difference(ref), _relation_difference(ans)
    if rd is None or ad is None:
        if len(ref.ops) == len(ans.ops) and ref.ops == ans.ops:
            return all(values_equal(r, a, params) for r, a in zip(ref.parts, ans.parts))
        raise Undecided("relation shapes differ")
    (rop, rexpr), (aop, aexpr) = rd, ad
    if rop in ("=", "!="):
        return aop == rop and _proportional(rexpr, aexpr, positive=False, params=params)
    if aop == rop:
        return _proportional(rexpr, aexpr, positive=True, params=params)
    return False


def _is_variable(value: Scalar) -> bool:
    return value.expr.is_Symbol or isinstance(value.expr, sympy.core.function.AppliedUndef)


def as_interval(value: Value) -> Value | None:
    """`a < x <= b`, `x >= a` over one variable as the interval of x it describes."""
    if not isinstance(value, Relation) or not all(isinstance(p, Scalar) for p in value.parts):
        return None
    parts, ops = value.parts, value.ops
    if len(ops) == 2 and ops[0] in ("<", "<=") and ops[1] in ("<", "<="):
        if _is_variable(parts[1]) and _constant(parts[0]) and _constant(parts[2]):
            return Interval(parts[0], parts[2], ops[0] == "<=", ops[1] == "<=")
    if len(ops) == 2 and ops[0] in (">", ">=") and ops[1] in (">", ">="):
        if _is_variable(parts[1]) and _constant(parts[0]) and _constant(parts[2]):
            return Interval(parts[2], parts[0], ops[1] == ">=", ops[0] == ">=")
    if len(ops) == 1 and ops[0] in _FLIP:
        a, b = parts
        op = ops[0]
        if b.expr.is_Symbol and _constant(a):
            a, b, op = b, a, _FLIP[op]
        if a.expr.is_Symbol and _constant(b):
            inf = Scalar(sympy.oo)
            if op in ("<", "<="):
                return Interval(Scalar(-sympy.oo), b, False, op == "<=")
            return Interval(b, inf, op == ">=", False)
    return None


# -- containers ----------------------------------------------------------------------------------

def _unordered_equal(ref: tuple[Value, ...], ans: tuple[Value, ...], params: MathParams) -> bool:
    if len(ref) > MAX_ITEMS or len(ans) > MAX_ITEMS:
        raise Undecided("too many items to match")
    unmatched = list(ans)
    for r in ref:
        hit = next((i for i, a in enumerate(unmatched) if _safe_equal(r, a, params)), None)
        if hit is None:
            # A reference may repeat an item (`1, 1, 2`): it must still appear among the answers.
            if not any(_safe_equal(r, a, params) for a in ans):
                return False
            continue
        unmatched.pop(hit)
    # Every answer item must match some reference item (no extra values smuggled in).
    return all(any(_safe_equal(r, a, params) for r in ref) for a in unmatched)


def _safe_equal(ref: Value, ans: Value, params: MathParams) -> bool:
    try:
        return values_equal(ref, ans, params)
    except Undecided:
        return False


def intervals_equal(ref: Interval, ans: Value, params: MathParams) -> bool:
    if isinstance(ans, Tuple) and len(ans.items) == 2 and ans.brackets == "()":
        if not all(isinstance(i, Scalar) for i in ans.items):
            return False
        ans = Interval(ans.items[0], ans.items[1], False, False)
    if not isinstance(ans, Interval):
        return False
    inf_ok = lambda s: s.expr.has(sympy.oo, -sympy.oo)  # noqa: E731 - open at infinity either way
    left = ref.left_closed == ans.left_closed or inf_ok(ref.lo)
    right = ref.right_closed == ans.right_closed or inf_ok(ref.hi)
    return left and right and scalars_equal(ref.lo, ans.lo, params) and scalars_equal(ref.hi, ans.hi, params)


def false_equation(value: Value, params: MathParams) -> bool:
    """An `=` chain whose constant parts are not all equal (`3 = 4`, `x = 3 = 4`): a false
    statement, which equals no value, whatever its last part says."""
    if not isinstance(value, Relation) or any(op != "=" for op in value.ops):
        return False
    constants = [p for p in value.parts if _constant(p)]
    if len(constants) < 2:
        return False
    try:
        return not all(values_equal(a, b, params) for a, b in zip(constants, constants[1:]))
    except (Undecided, TypeError, ValueError, ZeroDivisionError):
        return True  # a derivation that cannot be checked is no answer either


def values_equal(ref: Value, ans: Value, params: MathParams) -> bool:
    if false_equation(ans, params):
        return False
    ref, ans = simplify_relation(ref), simplify_relation(ans)
    # Relations: assignment <-> value, inequality reference <-> interval answer.
    if isinstance(ref, Relation) and isinstance(ans, Relation):
        return relations_equal(ref, ans, params)
    if isinstance(ref, Relation):
        value = assigned_value(ref)
        if value is not None:
            return values_equal(value, ans, params)
        interval = as_interval(ref)
        if isinstance(ans, (Interval, Tuple, SetOf)) and any(op in _FLIP for op in ref.ops):
            if interval is None:
                raise Undecided("inequality reference needs solving")
            return values_equal(interval, ans, params)
        return False
    if isinstance(ans, Relation):
        value = assigned_value(ans)
        if value is not None:
            return values_equal(ref, value, params)
        if params.set_relation and isinstance(ref, (Interval, SetOf)):
            interval = as_interval(ans)
            return interval is not None and values_equal(ref, interval, params)
        return False
    if isinstance(ref, Scalar) and isinstance(ans, Scalar):
        return scalars_equal(ref, ans, params)
    if isinstance(ref, Interval):
        if isinstance(ans, SetOf) and len(ans.parts) == 1:
            ans = ans.parts[0]
        return intervals_equal(ref, ans, params)
    if isinstance(ref, SetOf):
        ans_parts = ans.parts if isinstance(ans, SetOf) else (ans,)
        return _unordered_equal(ref.parts, ans_parts, params)
    if isinstance(ref, Tuple):
        if isinstance(ans, Interval) and len(ref.items) == 2 and ref.brackets == "()":
            return intervals_equal(Interval(ref.items[0], ref.items[1], False, False), ans, params)
        if isinstance(ans, (Tuple, Listing)) and len(ans.items) == len(ref.items):
            return all(values_equal(r, a, params) for r, a in zip(ref.items, ans.items))
        if isinstance(ans, Listing):
            return False
        return False
    if isinstance(ref, FiniteSet):
        if isinstance(ans, (FiniteSet, Listing)):
            return _unordered_equal(ref.items, ans.items, params)
        if len(ref.items) == 1:
            return values_equal(ref.items[0], ans, params)
        return False
    if isinstance(ref, Listing):
        if isinstance(ans, (FiniteSet, Listing)):
            return _unordered_equal(ref.items, ans.items, params)
        if isinstance(ans, Tuple) and not ref.from_pm:
            return len(ans.items) == len(ref.items) and all(
                values_equal(r, a, params) for r, a in zip(ref.items, ans.items))
        return False
    if isinstance(ref, Matrix):
        if isinstance(ans, Matrix):
            return len(ref.rows) == len(ans.rows) and all(
                len(r) == len(a) and all(values_equal(x, y, params) for x, y in zip(r, a))
                for r, a in zip(ref.rows, ans.rows))
        if isinstance(ans, (Tuple, Listing)) and all(len(r) == 1 for r in ref.rows):  # column vector
            return len(ans.items) == len(ref.rows) and all(
                values_equal(r[0], a, params) for r, a in zip(ref.rows, ans.items))
        return False
    if isinstance(ref, Text):
        return isinstance(ans, Text) and ans.text == ref.text
    if isinstance(ref, Choice):
        return isinstance(ans, Choice) and ans.letter == ref.letter
    if isinstance(ref, Scalar) and isinstance(ans, (Listing, FiniteSet)):
        distinct = ans.items
        return len(distinct) > 0 and all(values_equal(ref, a, params) for a in distinct)
    return False


def single_valued(ref: Value) -> bool:
    """Does the reference state one value (not a list, set or several solutions)?"""
    ref = simplify_relation(ref)
    return isinstance(ref, (Scalar, Text, Choice, Interval, Matrix)) or (
        isinstance(ref, Relation) and assigned_value(ref) is not None and isinstance(assigned_value(ref), Scalar))


def is_hedge(ref: Value, ans: Value) -> bool:
    """Several answers where the reference is one value."""
    return single_valued(ref) and isinstance(ans, (Listing,)) and len(ans.items) > 1
