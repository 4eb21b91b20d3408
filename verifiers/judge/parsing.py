"""Reading a verdict out of a judge's reply: JSON first, then the phrasings models fall back to.

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

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_YES = {"yes", "y", "true", "pass", "passed", "satisfied", "met", "1", "correct", "equivalent"}
_NO = {"no", "n", "false", "fail", "failed", "not satisfied", "unsatisfied", "not met", "0", "incorrect",
       "not equivalent"}
_NUMBER = r"-?\d+(?:\.\d+)?"


def reply_text(text: str) -> str:
    """The part of a reply that carries the verdict: after any reasoning block, bounded in size."""
    return after_reasoning(text).strip()[-MAX_SCAN_CHARS:]


def _lower_keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {str(k).strip().lower(): v for k, v in obj.items()}


def last_match(text: str, patterns: list[str], flags: int) -> str | None:
    """The last match of the first pattern, in order of preference, that matches at all."""
    for pattern in patterns:
        matches = re.findall(pattern, text, flags=flags)
        if matches:
            return matches[-1]
    return None


def find_json_object(text: str, key: str) -> dict[str, Any] | None:
    """The last JSON object in `text` (fenced or inline) that has `key`; keys are lower-cased."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for chunk in candidates:
        found: dict[str, Any] | None = None
        starts = [i for i, c in enumerate(chunk) if c == "{"][:MAX_JSON_STARTS]
        for start in starts:
            try:
                obj, _ = decoder.raw_decode(chunk, start)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and key in (obj := _lower_keys(obj)):
                found = obj
        if found is not None:
            return found
    return None


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
    for key in ("score", "rating"):
        obj = find_json_object(text, key)
        if obj is not None and (n := as_number(obj[key])) is not None:
            return n if lo <= n <= hi else None
    hi_text = re.escape(f"{hi:g}")
    patterns = [
        rf"\[\[\s*({_NUMBER})\s*(?:/\s*{hi_text})?\s*\]\]",
        rf"\\boxed\{{\s*({_NUMBER})\s*\}}",
        rf"\b(?:score|rating)\b[^\d\-\n]{{0,12}}({_NUMBER})",
        rf"({_NUMBER})\s*(?:/|out of)\s*{hi_text}\b",
        rf"^\s*({_NUMBER})\s*$",
    ]
    found = last_match(text, patterns, re.IGNORECASE | re.MULTILINE)
    if found is None:
        return None
    n = float(found)
    return n if lo <= n <= hi else None


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
    obj = find_json_object(text, "equivalent")
    if obj is not None:
        return as_bool(obj["equivalent"])
    patterns = [
        r"\[\[\s*(yes|no)\s*\]\]",
        r"\b(?:equivalent|verdict|answer)\b\s*[:=]\s*\**\s*(yes|no|true|false)\b",
        r"^\W*(yes|no)\W*$",
    ]
    found = last_match(text, patterns, re.IGNORECASE | re.MULTILINE)
    return None if found is None else as_bool(found)


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
    obj = find_json_object(text, "winner")
    if obj is not None:
        return as_winner(obj["winner"])
    patterns = [
        r"\[\[\s*(A|B|C|tie)\s*\]\]",
        r"\b(?:winner|better response|verdict)\b\s*(?:is)?\s*[:=]?\s*\**\s*((?:response\s+)?(?-i:A|B)\b|tie\b)",
        r"\b(?:response|assistant)\s+((?-i:A|B))\s+is\s+better\b",
    ]
    found = last_match(text, patterns, re.IGNORECASE)
    return None if found is None else as_winner(found)
