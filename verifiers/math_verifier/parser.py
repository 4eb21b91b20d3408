"""Recursive-descent parser from normalised answer text to exact `values`.

It covers what answers are usually made of (numbers, fractions, roots, pi/e/i, powers, factorials,
elementary functions, relations, intervals, sets, tuples, matrices, lists, words) and builds sympy
objects only from exact atoms. Anything it does not understand raises `ParseError`, and the caller
may hand the text to the symbolic fallback. Cost guards (`limits`) are applied while building, so
`9^{9^{9^{9}}}` or `100000!` never get evaluated.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import sympy

from verifiers.math_verifier import cost_guards
from verifiers.math_verifier.latex import FUNCTIONS, UNIT_WORDS, Token, TokenizeError, normalise, tokenize
from verifiers.math_verifier.values import (Choice, FiniteSet, Interval, Listing, Matrix, Parsed, Relation,
                                            Scalar, SetOf, Text, Tuple, Value)

MAX_TOKENS = 1_500  # real answers are far shorter; longer ones are refused as too costly
_FUNCTION_LETTERS = set("fghFGHPQWpq")
_SYMPY_FUNCTIONS = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec, "csc": sympy.csc,
    "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan, "sinh": sympy.sinh, "cosh": sympy.cosh,
    "tanh": sympy.tanh, "ln": sympy.log, "log": sympy.log, "lg": lambda x: sympy.log(x, 10), "exp": sympy.exp,
}
_MATRIX_ENVS = {"pmatrix", "bmatrix", "Bmatrix", "vmatrix", "matrix", "array", "smallmatrix"}
_HUGE = sympy.Symbol("HUGE_VALUE")  # stands in for a value too large to build
_CHOICE_LETTER = re.compile(r"^\(?([A-Ja-j])\)?[.:)]?$")


class ParseError(ValueError):
    pass


class UnitsNotAllowed(ParseError):
    """The answer carries a unit or words after its value and the params forbid that."""


def _int(digits: str) -> int:
    """int() without the 4,300-digit limit of Python 3.11 (digits are already checked for length)."""
    if len(digits) < 4000:
        return int(digits)
    head, tail = digits[:-3000], digits[-3000:]
    return _int(head) * 10 ** 3000 + int(tail)


def _number(text: str) -> tuple[sympy.Rational, bool]:
    if len(text) > cost_guards.MAX_DIGITS:
        raise cost_guards.TooCostly(f"number with more than {cost_guards.MAX_DIGITS} digits")
    if "e" in text or "E" in text:
        mantissa, exponent = text.lower().split("e")
        value, _ = _number(mantissa)
        return value * sympy.Rational(10) ** int(exponent), True
    if "." in text:
        whole, frac = text.split(".")
        value = Fraction(_int(whole or "0") * 10 ** len(frac) + _int(frac or "0"), 10 ** len(frac))
        return sympy.Rational(value.numerator, value.denominator), True
    return sympy.Integer(_int(text)), False


class _Parser:
    def __init__(self, tokens: list[Token], allow_units: bool):
        self.tokens = tokens
        self.pos = 0
        self.allow_units = allow_units
        self.depth = 0
        self.approx = False
        self.huge = False
        self.units: list[str] = []

    # -- token helpers -------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise ParseError("unexpected end of answer")
        self.pos += 1
        return tok

    def at(self, kind: str, value: str | None = None) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == kind and (value is None or tok.value == value)

    def expect(self, kind: str, value: str | None = None) -> Token:
        if not self.at(kind, value):
            raise ParseError(f"expected {value or kind}, got {self.peek()}")
        return self.take()

    def skip_units(self) -> None:
        """Unit words and \\text{} decorations after a value."""
        while True:
            tok = self.peek()
            if tok is None:
                return
            is_unit = tok.kind == "word" or tok.kind == "text" or (
                tok.kind == "name" and tok.value.lower() in UNIT_WORDS and len(tok.value) > 1)
            if not is_unit:
                return
            if not self.allow_units:
                raise UnitsNotAllowed(f"unit or text {tok.value!r} after the value")
            self.units.append(tok.value)
            self.pos += 1
            if self.at("op", "^") and self.peek(1) is not None and self.peek(1).kind == "num":
                self.pos += 2  # cm^2

    # -- grammar -------------------------------------------------------------------------------
    def parse(self) -> Value:
        groups: list[list[Value]] = [[self.relation()]]
        while self.at("sep"):
            sep = self.take().value
            if self.peek() is None:
                break
            if sep == ";":
                groups.append([])
            groups[-1].append(self.relation())
        if self.peek() is not None:
            raise ParseError(f"unexpected {self.peek().value!r}")
        if len(groups) > 1 and any(len(g) > 1 for g in groups):
            # "p=5, q=2; p=7, q=2": semicolons separate solutions, commas their components
            return Listing(tuple(g[0] if len(g) == 1 else Tuple(tuple(g)) for g in groups))
        items = [v for g in groups for v in g]
        return items[0] if len(items) == 1 else Listing(tuple(items))

    def relation(self) -> Value:
        parts = [self.expr()]
        ops: list[str] = []
        while self.at("rel"):
            ops.append(self.take().value)
            parts.append(self.expr())
        return Relation(tuple(parts), tuple(ops)) if ops else parts[0]

    def expr(self) -> Value:
        self.depth += 1
        if self.depth > cost_guards.MAX_NESTING:
            raise cost_guards.TooCostly(f"nesting deeper than {cost_guards.MAX_NESTING} levels")
        try:
            left = self.sum()
            if self.at("op", "cup") or self.at("op", "cap") or self.at("op", "setminus"):
                parts = [left]
                while self.at("op", "cup"):
                    self.take()
                    parts.append(self.sum())
                if self.at("op", "cap") or self.at("op", "setminus"):
                    raise ParseError("set intersection/difference")
                return SetOf(tuple(parts))
            return left
        finally:
            self.depth -= 1

    def sum(self) -> Value:
        first = self.term()
        if not (self.at("op", "+") or self.at("op", "-") or self.at("op", "pm")):
            return first
        # Terms are collected and added once: adding one by one is quadratic in sympy.
        branches: list[list[sympy.Basic]] = [[self.scalar(first)]]
        while self.at("op", "+") or self.at("op", "-") or self.at("op", "pm"):
            op = self.take().value
            rhs = self.scalar(self.term())
            if op == "+":
                for branch in branches:
                    branch.append(rhs)
            elif op == "-":
                for branch in branches:
                    branch.append(-rhs)
            else:
                if len(branches) >= 32:  # each \pm doubles the values: 1 \pm 1 \pm 1 ... is a hostile list
                    raise cost_guards.TooCostly("too many \\pm alternatives")
                branches = [branch + [sign * rhs] for branch in branches for sign in (1, -1)]
        values = [sympy.Add(*branch) for branch in branches]
        if len(values) > 1:
            return Listing(tuple(self.wrap(v) for v in values), from_pm=True)
        return self.wrap(values[0])

    def term(self) -> Value:
        if self.at("op", "-") or self.at("op", "pm") or self.at("op", "+"):
            op = self.take().value
            inner = self.term()
            if op == "+":
                return inner
            if op == "-":
                if isinstance(inner, Listing) and inner.from_pm:
                    return Listing(tuple(self.wrap(-self.scalar(v)) for v in inner.items), from_pm=True)
                return self.wrap(-self.scalar(inner))
            value = self.scalar(inner)
            return Listing((self.wrap(value), self.wrap(-value)), from_pm=True)
        first = self.power()
        if not isinstance(first, Scalar):
            if self.at("op", "*") or self.at("op", "/") or self.at("op", ":"):
                raise ParseError(f"{type(first).__name__} used as a number")
            self.skip_units()
            return first
        # Factors are collected and multiplied once (see sum).
        factors = [first.expr]
        numeric = first.expr.is_number is True
        while True:
            tok = self.peek()
            if tok is None:
                break
            if tok.kind == "op" and tok.value in ("*", "/", ":"):
                self.take()
                right = self.scalar(self.power_or_signed())
                if tok.value != "*":
                    if right == 0:
                        raise ParseError("division by zero")
                    right = sympy.Pow(right, -1)
                factors.append(right)
                numeric = numeric and right.is_number is True
                continue
            if self.starts_implicit_factor(tok, numeric):
                right = self.scalar(self.power())
                factors.append(right)
                numeric = numeric and right.is_number is True
                continue
            break
        self.skip_units()
        return first if len(factors) == 1 else self.wrap(sympy.Mul(*factors))

    def power_or_signed(self) -> Value:
        if self.at("op", "-"):
            self.take()
            return self.wrap(-self.scalar(self.power()))
        return self.power()

    def starts_implicit_factor(self, tok: Token, numeric_so_far: bool) -> bool:
        if tok.kind == "num":  # "2 3" is not a product; "x 3" is
            return not numeric_so_far
        if tok.kind == "name":
            return tok.value.lower() not in UNIT_WORDS or len(tok.value) == 1
        if tok.kind == "cmd":
            return tok.value not in ("boxed", "rfloor", "rceil")
        if tok.kind == "open" and tok.value in ("(", "{"):
            return True
        return False

    def power(self) -> Value:
        base = self.postfix()
        if self.at("op", "^"):
            self.take()
            exponent = self.scalar(self.exponent())
            base = self.wrap(self.build_pow(self.scalar(base), exponent))
            while self.at("op", "!"):
                self.take()
                base = self.wrap(self.build_factorial(self.scalar(base)))
        return base

    def exponent(self) -> Value:
        if self.at("op", "-"):
            self.take()
            return self.wrap(-self.scalar(self.exponent()))
        if self.at("open", "{"):
            return self.group("{", "}")
        if self.at("num"):
            # ^23 means ^2 followed by 3 in LaTeX; plain text (x^23) means 23. Take the whole number.
            value, approx = _number(self.take().value)
            self.approx |= approx
            return self.wrap(value)
        return self.postfix()

    def postfix(self) -> Value:
        value = self.atom()
        while self.at("op", "!") or self.at("op", "'") or self.at("op", "_"):
            tok = self.take()
            if tok.value == "!":
                value = self.wrap(self.build_factorial(self.scalar(value)))
            elif tok.value == "_":
                self.subscript()  # x_1 handled in atom; here a stray subscript on a group is dropped
        return value

    def subscript(self) -> str:
        if self.at("open", "{"):
            start = self.pos
            self.group("{", "}")
            return "".join(t.value for t in self.tokens[start + 1:self.pos - 1])
        tok = self.take()
        return tok.value

    def group(self, open_: str, close: str) -> Value:
        self.expect("open", open_)
        if self.at("close", close):
            self.take()
            raise ParseError("empty group")
        items = [self.relation()]
        while self.at("sep"):
            self.take()
            items.append(self.relation())
        self.expect("close", close)
        return items[0] if len(items) == 1 else Listing(tuple(items))

    def atom(self) -> Value:
        tok = self.take()
        kind, val = tok.kind, tok.value
        if kind == "num":
            value, approx = _number(val)
            self.approx |= approx
            return Scalar(value, approx=approx)
        if kind == "name":
            return self.name_atom(val)
        if kind == "text":
            inner = val.strip()
            if len(inner) == 1 and inner.isalpha():
                return self.name_atom(inner)
            if re.fullmatch(r"\d+(?:\.\d+)?", inner):  # \mathbf{5}
                value, approx = _number(inner)
                self.approx |= approx
                return Scalar(value, approx=approx)
            raise ParseError(f"text {val!r} inside an expression")
        if kind == "cmd":
            return self.command(val)
        if kind == "open":
            return self.bracketed(val)
        if kind == "op" and val == "|":
            inner = self.scalar(self.sum())
            self.expect("op", "|")
            return self.wrap(sympy.Abs(inner))
        if kind == "env_begin":
            return self.environment(val)
        raise ParseError(f"unexpected {val!r}")

    def name_atom(self, name: str) -> Value:
        if name == "pi":
            return self.wrap(sympy.pi)
        if name in ("infty", "inf", "infinity", "oo"):
            return self.wrap(sympy.oo)
        if name == "sqrt":
            return self.wrap(self.build_sqrt(self.scalar(self.function_argument())))
        if name in FUNCTIONS:
            return self.wrap(self.apply_function(name))
        if name == "e" and not self.at("op", "_"):
            return self.wrap(sympy.E)
        if name == "i" and not self.at("op", "_"):
            return self.wrap(sympy.I)
        symbol_name = name
        if self.at("op", "_"):
            self.take()
            symbol_name += "_" + self.subscript()
        if name in _FUNCTION_LETTERS and self.at("open", "("):
            args = self.bracketed(self.take().value)
            items = args.items if isinstance(args, (Tuple, Listing)) else (args,)
            return self.wrap(sympy.Function(symbol_name)(*[self.scalar(a) for a in items]))
        return self.wrap(sympy.Symbol(symbol_name))

    def function_argument(self) -> Value:
        if self.at("open", "("):
            return self.group("(", ")")
        if self.at("open", "{"):
            return self.group("{", "}")
        return self.power()

    def apply_function(self, name: str) -> sympy.Basic:
        if name in ("log", "lg") and self.at("op", "_"):
            self.take()
            base = self.scalar(self.exponent())
            arg = self.scalar(self.function_argument())
            return sympy.log(arg, base)
        power = None
        if self.at("op", "^"):  # \sin^2 x
            self.take()
            power = self.scalar(self.exponent())
        arg = self.scalar(self.function_argument())
        value = _SYMPY_FUNCTIONS[name](arg)
        return value ** power if power is not None else value

    def command(self, name: str) -> Value:
        if name == "frac":
            num = self.scalar(self.command_argument())
            den = self.scalar(self.command_argument())
            if den == 0:
                raise ParseError("division by zero")
            return self.wrap(num / den)
        if name == "binom":
            n = self.scalar(self.command_argument())
            k = self.scalar(self.command_argument())
            if n.is_Integer and k.is_Integer and abs(int(n)) > cost_guards.MAX_FACTORIAL:
                raise cost_guards.TooCostly("huge binomial")
            return self.wrap(sympy.binomial(n, k))
        if name == "sqrt":
            if self.at("open", "["):
                self.take()
                index = self.scalar(self.relation())
                self.expect("close", "]")
                radicand = self.scalar(self.command_argument())
                return self.wrap(self.build_root(radicand, index))
            return self.wrap(self.build_sqrt(self.scalar(self.command_argument(whole_number=True))))
        if name == "pi":
            return self.wrap(sympy.pi)
        if name in ("infty", "infin"):
            return self.wrap(sympy.oo)
        if name in FUNCTIONS:
            return self.wrap(self.apply_function(name))
        if name in ("boxed", "fbox", "overline", "underline"):
            return self.command_argument()
        if name in ("emptyset", "varnothing"):
            return FiniteSet(())
        if name in ("lfloor", "lceil"):
            inner = self.scalar(self.sum())
            self.expect("cmd", "rfloor" if name == "lfloor" else "rceil")
            return self.wrap(sympy.floor(inner) if name == "lfloor" else sympy.ceiling(inner))
        if name in ("alpha", "beta", "gamma", "delta", "theta", "lambda", "mu", "phi", "omega", "sigma", "tau",
                    "epsilon", "varepsilon", "rho", "psi", "xi", "eta", "zeta", "nu", "kappa", "chi", "varphi"):
            symbol_name = name
            if self.at("op", "_"):
                self.take()
                symbol_name += "_" + self.subscript()
            return self.wrap(sympy.Symbol(symbol_name))
        raise ParseError(f"unsupported command \\{name}")

    def command_argument(self, whole_number: bool = False) -> Value:
        if self.at("open", "{"):
            return self.group("{", "}")
        tok = self.take()
        if tok.kind == "num":  # \frac13: one digit per argument; \sqrt 11 is read as the root of 11
            digits = tok.value
            if len(digits) > 1 and digits.isdigit() and not whole_number:
                self.tokens.insert(self.pos, Token("num", digits[1:]))
                digits = digits[0]
            value, approx = _number(digits)
            return self.wrap(value)
        if tok.kind == "name" and len(tok.value) == 1:
            return self.name_atom(tok.value)
        if tok.kind == "cmd":
            return self.command(tok.value)
        raise ParseError("bad command argument")

    def bracketed(self, open_: str) -> Value:
        closers = {"(": (")", "]"), "[": ("]", ")"), "{": ("}",), "set{": ("set}",), "<": (">",)}[open_]
        if open_ == "{" and self.at("close", "}"):
            self.take()
            raise ParseError("empty group")
        items: list[Value] = []
        if not (self.peek() and self.peek().kind == "close" and self.peek().value in closers):
            items.append(self.relation())
            while self.at("sep"):
                self.take()
                items.append(self.relation())
        close = self.take()
        if close.kind != "close" or close.value not in closers:
            raise ParseError(f"unbalanced {open_}")
        if open_ == "set{":
            flat: list[Value] = []
            for item in items:
                flat.extend(item.items if isinstance(item, Listing) else (item,))
            return FiniteSet(tuple(flat))
        if open_ == "{":
            return items[0] if len(items) == 1 else Listing(tuple(items))
        if open_ == "<":
            return Tuple(tuple(items), brackets="<>")
        if len(items) == 1 and open_ == "(" and close.value == ")":
            return items[0]
        if len(items) == 2 and (open_ == "[" or close.value == "]"):
            return Interval(self.as_scalar(items[0]), self.as_scalar(items[1]),
                            left_closed=open_ == "[", right_closed=close.value == "]")
        if open_ == "(" and close.value == ")":
            return Tuple(tuple(items))
        if len(items) == 1:
            return items[0]
        raise ParseError("bracketed list")

    def environment(self, env: str) -> Value:
        if env not in _MATRIX_ENVS:
            raise ParseError(f"environment {env}")
        rows: list[list[Value]] = [[]]
        while not self.at("env_end"):
            if self.peek() is None:
                raise ParseError("unterminated matrix")
            if self.at("rowsep"):
                self.take()
                rows.append([])
                continue
            if self.at("colsep"):
                self.take()
                continue
            rows[-1].append(self.relation())
        self.take()
        rows = [r for r in rows if r]
        if not rows or len({len(r) for r in rows}) != 1:
            raise ParseError("ragged matrix")
        return Matrix(tuple(tuple(r) for r in rows))

    # -- building with cost guards ---------------------------------------------------------------
    def build_pow(self, base: sympy.Basic, exponent: sympy.Basic) -> sympy.Basic:
        if self.huge_marker(base) or self.huge_marker(exponent):
            return self.mark_huge()
        if exponent.is_Integer and base.is_Rational:
            if abs(int(exponent)) > 10 ** 7 and abs(base) != 1 and base != 0:
                return self.mark_huge()
            digits = max(cost_guards.integer_power_digits(int(base.p), int(exponent)),
                         cost_guards.integer_power_digits(int(base.q), int(exponent)))
            if digits > cost_guards.MAX_DIGITS:
                return self.mark_huge()
        elif exponent.is_number and exponent.is_real and (exponent.is_Integer or exponent.is_Rational):
            if abs(exponent) > 10_000 and not base.free_symbols:
                return self.mark_huge()
        elif exponent.is_number and exponent.is_real is not False:
            try:
                if abs(float(exponent)) > 10_000 and base.is_number:
                    return self.mark_huge()
            except (TypeError, ValueError):
                pass
        return sympy.Pow(base, exponent)

    def build_factorial(self, value: sympy.Basic) -> sympy.Basic:
        if self.huge_marker(value):
            return self.mark_huge()
        if value.is_Integer:
            n = int(value)
            if n < 0:
                raise ParseError("factorial of a negative integer")
            if n > cost_guards.MAX_FACTORIAL:
                return self.mark_huge()
            return sympy.Integer(math.factorial(n))
        return sympy.factorial(value)

    def build_sqrt(self, value: sympy.Basic) -> sympy.Basic:
        if self.huge_marker(value):
            return self.mark_huge()
        return sympy.sqrt(value)

    def build_root(self, value: sympy.Basic, index: sympy.Basic) -> sympy.Basic:
        if self.huge_marker(value) or self.huge_marker(index) or index == 0:
            return self.mark_huge()
        if index.is_Integer and int(index) % 2 == 1 and value.is_number and value.is_negative:
            return -sympy.root(-value, index)  # the real cube root of a negative number, as written in answers
        return sympy.root(value, index)

    def mark_huge(self) -> sympy.Basic:
        self.huge = True
        return _HUGE

    @staticmethod
    def huge_marker(value: sympy.Basic) -> bool:
        return _HUGE in getattr(value, "free_symbols", ())

    # -- conversions -------------------------------------------------------------------------------
    def scalar(self, value: Value) -> sympy.Basic:
        if isinstance(value, Scalar):
            return value.expr
        raise ParseError(f"{type(value).__name__} used as a number")

    def as_scalar(self, value: Value) -> Scalar:
        if isinstance(value, Scalar):
            return value
        raise ParseError(f"{type(value).__name__} used as an interval end")

    def wrap(self, expr: sympy.Basic) -> Scalar:
        return Scalar(expr)


def _finish(value: Value, parser: _Parser, percent: bool, degrees: bool) -> Value:
    """Propagate whole-answer flags (decimal, percent, degrees, huge) onto scalars."""
    if isinstance(value, Scalar):
        return Scalar(value.expr, approx=parser.approx, percent=percent, degrees=degrees,
                      huge=parser.huge and _HUGE in value.expr.free_symbols)
    if isinstance(value, Listing):
        return Listing(tuple(_finish(v, parser, percent, degrees) for v in value.items), value.from_pm)
    if isinstance(value, Relation):
        return Relation(tuple(_finish(v, parser, percent, degrees) for v in value.parts), value.ops)
    if isinstance(value, Tuple):
        return Tuple(tuple(_finish(v, parser, percent, degrees) for v in value.items), value.brackets)
    if isinstance(value, FiniteSet):
        return FiniteSet(tuple(_finish(v, parser, percent, degrees) for v in value.items))
    if isinstance(value, Interval):
        return Interval(_finish(value.lo, parser, percent, degrees), _finish(value.hi, parser, percent, degrees),
                        value.left_closed, value.right_closed)
    if isinstance(value, SetOf):
        return SetOf(tuple(_finish(v, parser, percent, degrees) for v in value.parts))
    if isinstance(value, Matrix):
        return Matrix(tuple(tuple(_finish(c, parser, percent, degrees) for c in row) for row in value.rows))
    return value


_WORDS_ONLY = re.compile(r"^[A-Za-z][A-Za-z '\-]*$")


def _as_text(tokens: list[Token]) -> str | None:
    """An answer made only of words (`Evelyn`, `\\text{odd}`, `The midpoints form a hexagon`)."""
    if not tokens or any(t.kind not in ("word", "text", "name", "sep") for t in tokens):
        return None
    words = " ".join(t.value for t in tokens if t.kind != "sep")
    if not _WORDS_ONLY.match(words.strip()):
        return None
    has_text = any(t.kind == "text" for t in tokens) or any(t.kind == "word" for t in tokens)
    if not has_text:
        return None
    return " ".join(words.casefold().split())


def choice_letter(text: str) -> str | None:
    """`A`, `(B)`, `\\text{(C)}`, `D.`: a multiple-choice letter, or None."""
    stripped = re.sub(r"\\text(?:bf)?\{([^{}]*)\}", r"\1", text).strip().strip("$").strip()
    stripped = re.sub(r"^(?:option|choice|answer)\s*", "", stripped, flags=re.IGNORECASE)
    m = _CHOICE_LETTER.match(stripped)
    return m.group(1).upper() if m else None


def parse_answer(text: str, *, allow_units: bool = True) -> Parsed:
    """Parse one extracted answer. Raises ParseError (not understood) or cost_guards.TooCostly."""
    cost_guards.check_nesting(text)
    norm = normalise(text)
    if not norm.text:
        raise ParseError("empty answer")
    try:
        tokens = tokenize(norm.text)
    except TokenizeError as exc:
        raise ParseError(str(exc)) from exc
    if len(tokens) > MAX_TOKENS:
        raise cost_guards.TooCostly(f"answer longer than {MAX_TOKENS} tokens")
    words = _as_text(tokens)
    if words is not None:
        return Parsed(Text(words), norm.text)
    parser = _Parser(tokens, allow_units)
    value = parser.parse()
    value = _finish(value, parser, norm.percent, norm.degrees)
    notes = [f"units stripped: {' '.join(parser.units)}"] if parser.units else []
    return Parsed(value, norm.text, notes)


def parse_choice(text: str) -> Parsed | None:
    letter = choice_letter(text)
    return Parsed(Choice(letter), letter) if letter else None
