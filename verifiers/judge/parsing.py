"""Reading a verdict out of a judge's reply: its JSON object or the phrasings models fall back
to, whichever comes last (a judge may quote the item, which may hold a planted verdict).

Each reader returns None when the reply does not say what was asked; the caller turns that into
a failed sample with the reply quoted, never into a guessed score.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from verifiers.text import after_reasoning

MAX_SCAN_CHARS = 20_000
MAX_JSON_STARTS = 200
Winner = Literal["A", "B", "tie"]

_YES = {"yes", "y", "true", "pass", "passed", "satisfied", "met", "1", "correct", "equivalent"}
_NO = {"no", "n", "false", "fail", "failed", "not satisfied", "unsatisfied", "not met", "0", "incorrect",
       "not equivalent"}
_NUMBER = r"-?\d+(?:\.\d+)?"


def reply_text(text: str) -> str:
    """The part of a reply that carries the verdict: after any reasoning block, bounded in size."""
    return after_reasoning(text).strip()[-MAX_SCAN_CHARS:]


def _lower_keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {str(k).strip().lower(): v for k, v in obj.items()}


def last_match(text: str, patterns: list[str], flags: int) -> tuple[int, str] | None:
    """(end, group 1) of the match that ends last, across every pattern: a judge's own verdict
    comes after anything it quotes from the item, so earlier matches never win."""
    best: tuple[int, str] | None = None
    for pattern in patterns:
        for match in re.finditer(pattern, text, flags=flags):
            if best is None or match.end() > best[0]:
                best = (match.end(), match.group(1))
    return best


def find_json_object(text: str, key: str) -> dict[str, Any] | None:
    """The last JSON object in `text` (fenced or inline) that has `key`; keys are lower-cased."""
    found = last_json_object(text, key)
    return None if found is None else found[1]


def last_json_object(text: str, key: str) -> tuple[int, dict[str, Any]] | None:
    """(end, object) of the JSON object with `key` that ends last in `text`. Only the last
    `MAX_JSON_STARTS` opening braces are tried: the verdict is at the end of a reply."""
    decoder = json.JSONDecoder()
    starts = [i for i, c in enumerate(text) if c == "{"][-MAX_JSON_STARTS:]
    best: tuple[int, dict[str, Any]] | None = None
    for start in starts:
        try:
            obj, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and key in (obj := _lower_keys(obj)) and (best is None or end > best[0]):
            best = (end, obj)
    return best


def final_verdict(text: str, keys: tuple[str, ...], patterns: list[str], flags: int) -> Any:
    """The judge's final verdict: the value of the JSON object (with one of `keys`) or the
    pattern match that ends last in the reply; None when there is neither."""
    best: tuple[int, Any] | None = last_match(text, patterns, flags)
    for key in keys:
        found = last_json_object(text, key)
        if found is not None and (best is None or found[0] >= best[0]):
            best = (found[0], found[1][key])
    return None if best is None else best[1]


def as_bool(value: Any) -> bool | None:
    """yes/no in the forms judges write it; None when it is neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().strip(".!*\"'`[]()").strip().lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
    return None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and (m := re.fullmatch(rf"\s*({_NUMBER})\s*(?:/\s*\d+)?\s*", value)):
        return float(m.group(1))
    return None


def critique_of(obj: dict[str, Any] | None) -> str | None:
    if obj is None:
        return None
    for key in ("critique", "reasoning", "explanation", "rationale"):
        if isinstance(obj.get(key), str):
            return obj[key]
    return None


# -- rubric ---------------------------------------------------------------------------------------
def parse_score(text: str, lo: float, hi: float) -> float | None:
    """A score on [lo, hi]: JSON `score`/`rating`, else `[[7]]`, `\\boxed{7}`, `Score: 7`, `7/10`."""
    text = reply_text(text)
    hi_text = re.escape(f"{hi:g}")
    patterns = [
        rf"\[\[\s*({_NUMBER})\s*(?:/\s*{hi_text})?\s*\]\]",
        rf"\\boxed\{{\s*({_NUMBER})\s*\}}",
        rf"\b(?:score|rating)\b[^\d\-\n]{{0,12}}({_NUMBER})",
        rf"({_NUMBER})\s*(?:/|out of)\s*{hi_text}\b",
        rf"^\s*({_NUMBER})\s*$",
    ]
    n = as_number(final_verdict(text, ("score", "rating"), patterns, re.IGNORECASE | re.MULTILINE))
    return n if n is not None and lo <= n <= hi else None


# -- principles -----------------------------------------------------------------------------------
def _verdict_list(value: Any, n: int) -> list[bool] | None:
    if isinstance(value, dict):  # {"1": "yes", "2": "no"}
        by_index = {}
        for k, v in value.items():
            if str(k).strip().isdigit():
                by_index[int(str(k).strip())] = v
        value = [by_index.get(i) for i in range(1, n + 1)]
    if not isinstance(value, list) or len(value) != n:
        return None
    out = []
    for entry in value:
        if isinstance(entry, dict):
            entry = _lower_keys(entry)
            entry = next((entry[k] for k in ("satisfied", "verdict", "answer", "met", "pass") if k in entry), None)
        b = as_bool(entry)
        if b is None:
            return None
        out.append(b)
    return out


def parse_principle_verdicts(text: str, n: int) -> list[bool] | None:
    """One yes/no per principle, in order: JSON `verdicts`, else numbered lines ending in yes/no."""
    text = reply_text(text)
    obj = find_json_object(text, "verdicts")
    if obj is not None:
        return _verdict_list(obj["verdicts"], n)
    found: dict[int, bool] = {}
    for line in text.splitlines():
        m = re.match(r"\s*(?:[-*]\s*)?(?:principle\s*)?(\d+)\s*[.):\-]\s*(.*)$", line, flags=re.IGNORECASE)
        if not m:
            continue
        words = re.findall(r"\b(yes|no|pass|fail|satisfied|true|false)\b", m.group(2), flags=re.IGNORECASE)
        if words:
            found[int(m.group(1))] = bool(as_bool(words[-1]))
    if all(i in found for i in range(1, n + 1)):
        return [found[i] for i in range(1, n + 1)]
    return None


# -- reference ------------------------------------------------------------------------------------
def parse_equivalent(text: str) -> bool | None:
    """Does the judge say the answer matches the reference? JSON `equivalent`, else YES/NO forms."""
    text = reply_text(text)
    patterns = [
        r"\[\[\s*(yes|no)\s*\]\]",
        r"\b(?:equivalent|verdict|answer)\b\s*[:=]\s*\**\s*(yes|no|true|false)\b",
        r"^\W*(yes|no)\W*$",
    ]
    return as_bool(final_verdict(text, ("equivalent",), patterns, re.IGNORECASE | re.MULTILINE))


# -- pairwise -------------------------------------------------------------------------------------
def as_winner(value: Any) -> Winner | None:
    if not isinstance(value, str):
        return None
    word = value.strip().strip(".!*\"'`[]()").strip().lower()
    word = re.sub(r"^(?:response|assistant|answer|output)\s+", "", word)
    if word == "a":
        return "A"
    if word == "b":
        return "B"
    if word in ("tie", "c", "equal", "both", "draw", "neither", "same"):
        return "tie"
    return None


def parse_winner(text: str) -> Winner | None:
    """Which response the judge prefers: JSON `winner`, else `[[A]]` (`[[C]]` = tie), `Winner: B`."""
    text = reply_text(text)
    patterns = [
        r"\[\[\s*(A|B|C|tie)\s*\]\]",
        r"\b(?:winner|better response|verdict)\b\s*(?:is)?\s*[:=]?\s*\**\s*((?:response\s+)?(?-i:A|B)\b|tie\b)",
        r"\b(?:response|assistant)\s+((?-i:A|B))\s+is\s+better\b",
    ]
    return as_winner(final_verdict(text, ("winner",), patterns, re.IGNORECASE))
