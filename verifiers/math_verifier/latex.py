"""Normalisation and tokenising of LaTeX and plain-text math answers.

The output is a flat token list for `parser.py`. Decorations that do not change the value
(spacing, \\left/\\right, \\displaystyle, font commands) are dropped here; decorations that
carry meaning (percent, degrees, units, words) become flags or tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DROP = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg|displaystyle|textstyle|limits|nolimits)"
    r"(?![A-Za-z])|(?<!\\)\\[,;:! ]|\\q?quad|~|\\(?:hspace|vspace)\*?\{[^{}]*\}|\\phantom\{[^{}]*\}"
)
_MATH_DELIMS = re.compile(r"\\\(|\\\)|\\\[|\\\]|(?<!\\)\$")
_FRAC_VARIANTS = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ(?![A-Za-z])|\\degree(?![A-Za-z])|°|\s*\bdegrees?\b")
_PERCENT = re.compile(r"\\%|%|\s*\b(?:percentage|percent|pct)\b", re.IGNORECASE)
_THOUSANDS_BRACE = re.compile(r"(?<=\d)\{,\}(?=\d{3})|(?<=\d)\\!(?=\d)|(?<=\d),\\!\s*(?=\d{3})|(?<=\d)\s*\{\s*,\s*\}\s*(?=\d{3})")
_SPACE_THOUSANDS = re.compile(r"^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$")
_GLUED_CONNECTOR = re.compile(r"(?<=[\d)])(?:or|and)(?=[A-Z(\\])")
_ESCAPED_COMMAND = re.compile(r"\\\\(?=[A-Za-z])")
_UNICODE = {
    "−": "-", "–": "-", "×": "*", "÷": "/", "·": "*", "⋅": "*", "π": "\\pi ", "√": "\\sqrt", "∞": "\\infty ",
    "≤": "<=", "≥": ">=", "≠": "!=", "∪": "\\cup ", "∩": "\\cap ", "²": "^2", "³": "^3", "±": "\\pm ", "∈": "\\in ",
    "\u2009": " ", "\u00a0": " ", "，": ",",
}
_RELATION_COMMANDS = {
    "le": "<=", "leq": "<=", "leqslant": "<=", "ge": ">=", "geq": ">=", "geqslant": ">=", "lt": "<", "gt": ">",
    "ne": "!=", "neq": "!=", "approx": "approx", "sim": "approx", "simeq": "approx", "equiv": "=", "in": "in",
    "to": "to", "rightarrow": "to", "implies": "to", "Rightarrow": "to",
}
# Commands whose braced argument is plain text.
TEXT_COMMANDS = {"text", "textbf", "textit", "textrm", "textnormal", "mbox", "mathrm", "mathbf", "mathit",
                 "mathsf", "mathtt", "operatorname", "rm", "bf", "it", "textup", "emph", "mathbb", "mathcal"}
FUNCTIONS = {"sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
             "ln", "log", "exp", "lg"}
WORD_SEPARATORS = {"and", "or"}
# Multi-letter plain words that are math, not prose.
MATH_WORDS = FUNCTIONS | {"pi", "sqrt", "infty", "inf", "infinity", "oo"}
UNIT_WORDS = {
    "cm", "mm", "km", "m", "kg", "g", "mg", "s", "ms", "sec", "min", "mins", "h", "hr", "hrs", "hours", "hour",
    "minutes", "minute", "seconds", "second", "days", "day", "weeks", "week", "years", "year", "months", "month",
    "miles", "mile", "mph", "feet", "foot", "ft", "inches", "inch", "in", "yards", "yard", "meters", "meter",
    "metres", "metre", "units", "unit", "dollars", "dollar", "cents", "cent", "yuan", "euros", "euro", "liters",
    "liter", "litres", "l", "ml", "gallons", "degrees", "degree", "square", "cubic", "sq", "lbs", "lb", "pounds",
    "pound", "ounces", "oz", "kmh", "kph", "people", "students", "ways", "points", "times", "apples",
}


@dataclass(frozen=True)
class Token:
    kind: str  # num, name, word, text, cmd, op, rel, open, close, sep, env_begin, env_end, rowsep, colsep, unit
    value: str


@dataclass
class Normalised:
    text: str
    percent: bool = False
    degrees: bool = False


_TRIG = re.compile(r"\\?(?:sin|cos|tan|cot|sec|csc)(?![a-z])")
_DEGREE_NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°|\\degree(?![A-Za-z]))")
_REPEATING = re.compile(r"(\d*)\.(\d*)\\overline\{(\d+)\}")
_FUNCTION_INVERSE = re.compile(r"(?<![A-Za-z\\])([fghFGH])\s*\^\s*\{?\s*-\s*1\s*\}?\s*\(")


def _repeating_to_fraction(m: re.Match) -> str:
    """0.1\\overline{6} -> \\frac{1}{6}: a repeating decimal is an exact rational."""
    whole, fixed, cycle = m.group(1) or "0", m.group(2), m.group(3)
    if len(fixed) + len(cycle) > 50:
        return m.group()
    numerator = int(whole + fixed + cycle) - int(whole + fixed)
    denominator = (10 ** len(cycle) - 1) * 10 ** len(fixed)
    return f"\\frac{{{numerator}}}{{{denominator}}}"


def normalise(text: str) -> Normalised:
    """Strip decorations; record percent and degree marks."""
    for k, v in _UNICODE.items():
        if k in text:
            text = text.replace(k, v)
    text = text.replace("\\$", " ")  # an escaped dollar is currency
    if "\\begin" not in text:
        text = _ESCAPED_COMMAND.sub(r"\\", text)  # "\\\\text" from double-escaped sources
    text = _GLUED_CONNECTOR.sub(" , ", text)
    text = _MATH_DELIMS.sub(" ", text)
    text = _THOUSANDS_BRACE.sub("", text)
    text = _DROP.sub(" ", text)
    text = _FRAC_VARIANTS.sub(r"\\frac", text)
    text = text.replace("\\{", " \\lbrace ").replace("\\}", " \\rbrace ")
    text = text.replace("\\lvert", "|").replace("\\rvert", "|").replace("\\vert", "|").replace("\\mid", "|")
    text = text.replace("\\langle", "\\lbrace_angle ").replace("\\rangle", "\\rbrace_angle ")
    if "overline" in text:
        text = _REPEATING.sub(_repeating_to_fraction, text)
    text = _FUNCTION_INVERSE.sub(r"\1_{inv}(", text)
    if _TRIG.search(text):  # sin 45^\circ: degrees inside a function argument become radians there
        text = _DEGREE_NUMBER.sub(lambda m: f"({m.group(1)}\\pi/180)", text)
    degrees = bool(_DEGREES.search(text))
    if degrees:
        text = _DEGREES.sub(" ", text)
    percent = bool(_PERCENT.search(text))
    if percent:
        text = _PERCENT.sub(" ", text)
    text = text.strip().rstrip(".").strip()
    if _SPACE_THOUSANDS.match(text):
        text = text.replace(" ", "")
    return Normalised(text=text, percent=percent, degrees=degrees)


def _braced(text: str, start: int) -> tuple[str, int]:
    """Content of the brace group opening at text[start] == '{', and the index after it."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    return text[start + 1:], len(text)


_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d{1,4}(?![\d.]))?|\.\d+")  # 1.5e-3, 6.02e23: scientific notation
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])")


class TokenizeError(ValueError):
    pass


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            m = _THOUSANDS.match(text, i)
            prev = tokens[-1] if tokens else None
            # 1,234,567 is one number unless it sits inside a tuple/list of small numbers.
            if m and (prev is None or prev.kind not in ("sep", "open")):
                tokens.append(Token("num", m.group().replace(",", "")))
                i = m.end()
                continue
            m = _NUMBER.match(text, i)
            tokens.append(Token("num", m.group()))
            i = m.end()
            continue
        if ch.isalpha():
            j = i
            while j < n and text[j].isalpha():
                j += 1
            word = text[i:j]
            i = j
            low = word.lower()
            if low in WORD_SEPARATORS:
                tokens.append(Token("sep", low))
            elif low in MATH_WORDS:
                tokens.append(Token("name", low))
            elif len(word) == 1:
                tokens.append(Token("name", word))
            else:
                tokens.append(Token("word", word))
            continue
        if ch == "\\":
            if i + 1 < n and text[i + 1] == "\\":
                tokens.append(Token("rowsep", "\\\\"))
                i += 2
                continue
            j = i + 1
            while j < n and (text[j].isalpha() or text[j] == "_" and text[i + 1:j] in ("lbrace", "rbrace")):
                j += 1
            name = text[i + 1:j]
            i = j
            if not name:
                i += 1
                continue
            if name in TEXT_COMMANDS:
                while i < n and text[i] == " ":
                    i += 1
                if i < n and text[i] == "{":
                    content, i = _braced(text, i)
                    words = content.strip().strip(",").strip().lower()
                    if words in WORD_SEPARATORS or (not words and "," in content):
                        tokens.append(Token("sep", words or ","))
                    elif words:
                        tokens.append(Token("text", content.strip()))
                continue
            if name in ("begin", "end") and i < n and text[i] == "{":
                env, i = _braced(text, i)
                if name == "begin" and env == "array" and i < n and text[i] == "{":
                    _, i = _braced(text, i)  # column spec
                tokens.append(Token("env_begin" if name == "begin" else "env_end", env))
                continue
            if name in _RELATION_COMMANDS:
                tokens.append(Token("rel", _RELATION_COMMANDS[name]))
                continue
            if name in ("lbrace", "rbrace", "lbrace_angle", "rbrace_angle"):
                kind = "open" if name.startswith("l") else "close"
                tokens.append(Token(kind, ("<" if kind == "open" else ">") if "angle" in name else
                                    ("set{" if kind == "open" else "set}")))
                continue
            if name in ("cdot", "times", "ast"):
                tokens.append(Token("op", "*"))
                continue
            if name == "div":
                tokens.append(Token("op", "/"))
                continue
            if name in ("pm", "mp"):
                tokens.append(Token("op", "pm"))
                continue
            if name in ("cup", "cap", "setminus"):
                tokens.append(Token("op", name))
                continue
            tokens.append(Token("cmd", name))
            continue
        two = text[i:i + 2]
        if two in ("<=", ">=", "!=", "=<", "=>", "=="):
            tokens.append(Token("rel", {"=<": "<=", "=>": ">=", "==": "="}.get(two, two)))
            i += 2
            continue
        if two == "**":
            tokens.append(Token("op", "^"))
            i += 2
            continue
        if ch in "=<>":
            tokens.append(Token("rel", ch))
        elif ch in "+-*/^_!:'":
            tokens.append(Token("op", ch))
        elif ch in "([{":
            tokens.append(Token("open", ch))
        elif ch in ")]}":
            tokens.append(Token("close", ch))
        elif ch in ",;":
            tokens.append(Token("sep", ch))
        elif ch == "&":
            tokens.append(Token("colsep", "&"))
        elif ch == "|":
            tokens.append(Token("op", "|"))
        elif ch in "?#@\"`":
            raise TokenizeError(f"unexpected character {ch!r}")
        i += 1
    return tokens
