"""Finding the final answer in a completion (or a reference written as a solution).

Sources, tried in order: the last `\\boxed{}`/`\\fbox{}` (with neighbours joined by `and`/`,`),
"final answer" markers, "the answer is ...", and the last math expression. Only text after a
closed `</think>` counts; an unclosed `<think>` leaves no answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_THINK_OPEN = re.compile(r"<think(?:ing)?>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FINAL_MARKER = re.compile(r"final\s+answer\s*(?:is|:|\*\*|=)*\s*:?\s*|^\s*####\s*", re.IGNORECASE | re.MULTILINE)
_BARE_BOX = re.compile(r"\\boxed\s+([^\s{$][^\s$]*)")
_CHOICE = re.compile(r"\(([A-J])\)|\b(?:answer|option|choice)\s*(?:is|:)?\s*:?\s*\(?([A-J])\b\)?")
_ANSWER_IS = re.compile(r"(?:the\s+)?answer\s*(?:is|:|=)\s*:?\s*|answer\s*[:：]\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<!\d)\.(?=\s|$)|\.\s*$|\n\s*\n|(?i:\s*I hope)")
_DELIMITER = re.compile(r"(?<!\\)\$\$|\\\[|\\\]|\\\(|\\\)|(?<!\\)\$")
_BRACE_OR_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{|\{|\}")
MAX_GROUP = 50  # boxes or spans joined into one answer
_PLAIN_NUMBER = re.compile(
    r"(?<![A-Za-z\d.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.,]\d+)?(?:/\d+(?:\.\d+)?)?(?:\s*(?:%|percent|pct))?")
_DECIMAL_COMMA = re.compile(r"^(-?\d+),(\d{1,2}|\d{4,})$|^(-?0),(\d+)$")
_LAST_IS = re.compile(r"\b(?:is|are|was|equals|be)\b\s*:?", re.IGNORECASE)
_MATHY_WORDS = re.compile(r"[A-Za-z]{3,}\s+[A-Za-z]{3,}")
_CONNECTOR_WORDS = re.compile(r"\b(?:and|or)\b", re.IGNORECASE)
_GAP_NOISE = re.compile(r"\\text\{[^{}]*\}|\\q?quad|\\[,;! ]|[\s$.,;:+\-\\]|\\\(|\\\)|\\\[|\\\]")


@dataclass
class Extraction:
    answer: str | None
    source: str  # boxed, final_answer, answer_is, last_math, last_number, whole, none
    parts: int = 1  # how many boxes/spans were joined
    note: str | None = None
    other_boxes: tuple[str, ...] = ()  # contents of earlier boxes not joined into the answer


def visible_text(text: str, after_reasoning: bool = True) -> tuple[str | None, str | None]:
    """The part of a completion that may hold the answer, and a note when reasoning decided it."""
    if not after_reasoning:
        return text, None
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        return text[closes[-1].end():], "answer taken after </think>"
    if _THINK_OPEN.search(text):
        return None, "reasoning block never closed"
    return text, None


def extract_choice(text: str) -> str | None:
    """The last multiple-choice letter named in the text: `(C)`, `answer is C`, `option: B`."""
    found = list(_CHOICE.finditer(text))
    return (found[-1].group(1) or found[-1].group(2)) if found else None


def _bare_boxes(text: str) -> str:
    """`\\boxed 5` (no braces) as `\\boxed{5}`."""
    return _BARE_BOX.sub(lambda m: "\\boxed{" + m.group(1).rstrip(".,;") + "}", text) if "\\boxed " in text else text


def boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every outermost \\boxed{}/\\fbox{}; an unclosed last box runs to the end.

    One pass over the braces, so ten thousand unclosed boxes cost no more than one.
    """
    found: list[tuple[int, int, str]] = []
    depth = 0
    open_at: tuple[int, int, int] | None = None  # (box start, content start, depth outside it)
    for m in _BRACE_OR_BOX.finditer(text):
        token = m.group()
        if token == "}":
            depth = max(0, depth - 1)
            if open_at is not None and depth == open_at[2]:
                found.append((open_at[0], m.end(), text[open_at[1]:m.start()]))
                open_at = None
            continue
        if token != "{" and open_at is None:
            open_at = (m.start(), m.end(), depth)
        depth += 1
    if open_at is not None:
        found.append((open_at[0], len(text), text[open_at[1]:]))
    return found


def unclosed_box_start(text: str) -> int | None:
    """Where a final `\\boxed{` that is never closed starts (a generation cut off mid-answer)."""
    found = boxes(text)
    if found and found[-1][1] == len(text) and not text.endswith("}"):
        return found[-1][0]
    return None


def _joinable(gap: str) -> bool:
    """Is the text between two boxes a connector ("and", ",", "\\quad", "for part (b) and")?"""
    if len(gap) > 60:
        return False
    rest = _GAP_NOISE.sub(" ", gap)
    if not rest.strip():
        return True
    words = rest.split()
    return bool(_CONNECTOR_WORDS.search(gap)) and len(words) <= 5


def _last_box_group(text: str) -> tuple[str, int] | None:
    found = boxes(text)
    if not found:
        return None
    group = [found[-1]]
    for prev in reversed(found[max(0, len(found) - MAX_GROUP):-1]):
        if _joinable(text[prev[1]:group[0][0]]):
            group.insert(0, prev)
        else:
            break
    contents = [c for _, _, c in group]
    return (contents[0] if len(contents) == 1 else " , ".join(contents)), len(contents)


def _clip_sentence(text: str) -> str:
    m = _SENTENCE_END.search(text)
    return text[:m.start()] if m else text


def _scan_math(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """Math spans ($$..$$, \\[..\\], $..$, \\(..\\)) and broken inline spans (an inline span over a
    line break is not math), found in one left-to-right pass over the delimiters."""
    spans: list[tuple[int, int, str]] = []
    broken: list[tuple[int, int]] = []
    closer_of = {"$$": "$$", "\\[": "\\]", "\\(": "\\)", "$": "$"}
    opened: tuple[str, int] | None = None
    for m in _DELIMITER.finditer(text):
        token, start = m.group(), m.start()
        if opened is None:
            if token in closer_of and not (token == "$" and start > 0 and text[start - 1].isdigit()):
                opened = (token, m.end())
            continue
        kind, content_start = opened
        if token != closer_of[kind]:
            continue
        content = text[content_start:start]
        if kind in ("$", "\\(") and "\n" in content:
            broken.append((content_start - len(kind), m.end()))
        else:
            spans.append((content_start - len(kind), m.end(), content))
        opened = None
    return spans, broken


def _math_spans(text: str) -> list[tuple[int, int, str]]:
    return _scan_math(text)[0]


def _blank(text: str, regions: list[tuple[int, int]]) -> str:
    if not regions:
        return text
    parts, last = [], 0
    for start, end in regions:
        parts.append(text[last:start])
        parts.append(" " * (end - start))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _span_group(text: str) -> tuple[str, int] | None:
    """The last math span, joined with earlier ones when only connectors separate them."""
    spans = [s for s in _math_spans(text) if s[2].strip()]
    if not spans:
        return None
    group = [spans[-1]]
    for prev in reversed(spans[max(0, len(spans) - MAX_GROUP):-1]):
        if _joinable(text[prev[1]:group[0][0]]) and _CONNECTOR_WORDS.search(text[prev[1]:group[0][0]]) or \
                text[prev[1]:group[0][0]].strip() in (",", ";"):
            group.insert(0, prev)
        else:
            break
    contents = [c.strip() for _, _, c in group]
    return (contents[0] if len(contents) == 1 else " , ".join(contents)), len(contents)


def _answer_in_snippet(snippet: str) -> str | None:
    """Inside a marker's sentence ("The largest $n$ is 34"): what follows the last "is", then its math."""
    snippet = snippet.strip()
    group = _last_box_group(snippet)
    if group:
        return group[0]
    verbs = list(_LAST_IS.finditer(snippet))
    if verbs:
        snippet = snippet[verbs[-1].end():].strip()
    group = _span_group(snippet)
    if group:
        return group[0]
    snippet = snippet.strip().strip("*").strip()
    if _MATHY_WORDS.search(snippet):
        return _last_number(snippet) or snippet
    return snippet or None


_NUMBER_WITH_UNIT = re.compile(r"^-?[\d.,]+\s*[A-Za-z€$£]+[²³]?\.?$")
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")
_TEXT_GROUP = re.compile(r"\\(?:text|mathrm|textbf|mbox)\s*\{[^{}]*\}")
_NOT_PROSE = {"pi", "sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "inf", "infty", "infinity",
              "percent", "percentage", "pct", "degree", "degrees", "and", "mod", "arcsin", "arccos", "arctan"}


def _has_prose(text: str) -> bool:
    return any(w.group().lower() not in _NOT_PROSE for w in _WORD.finditer(_TEXT_GROUP.sub(" ", text)))


def plain_decimal_comma(answer: str) -> str:
    """`1000,99` and `0,111` written without LaTeX are decimal commas."""
    m = _DECIMAL_COMMA.match(answer.strip())
    if not m:
        return answer
    whole, frac = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(3), m.group(4))
    return f"{whole}.{frac}"


def _last_number(text: str) -> str | None:
    matches = list(_PLAIN_NUMBER.finditer(text))
    return matches[-1].group().strip() if matches else None


def extract(text: str, mode: str = "auto", allow_unclosed_box: bool = False) -> Extraction:
    """Find the answer in visible completion text according to the extraction mode.

    A completion whose last `\\boxed{` is never closed was cut off: that box is not an answer.
    """
    if mode == "whole":
        stripped = text.strip()
        return Extraction(stripped or None, "whole" if stripped else "none")
    text = _bare_boxes(text)
    if not allow_unclosed_box and unclosed_box_start(text) is not None:
        return Extraction(None, "none", note="the last \\boxed{ is never closed: the answer was cut off")
    group = _last_box_group(text)
    last_box_end = boxes(text)[-1][1] if group else -1
    final_markers = list(_FINAL_MARKER.finditer(text)) if mode != "boxed" else []
    # A box counts unless a "final answer" marker comes after it (the box was a step).
    if group and not (final_markers and final_markers[-1].start() > last_box_end):
        every = boxes(text)
        chosen = {"".join(c.split()) for _, _, c in every[len(every) - group[1]:]}
        others = tuple(dict.fromkeys(c for _, _, c in every[:len(every) - group[1]] if "".join(c.split()) not in chosen))
        return Extraction(group[0], "boxed", parts=group[1], other_boxes=others)
    if mode == "boxed":
        return Extraction(None, "none", note="no \\boxed{} answer")
    for pattern, source in ((_FINAL_MARKER, "final_answer"), (_ANSWER_IS, "answer_is")):
        matches = list(pattern.finditer(text))
        if matches and matches[-1].start() > last_box_end:
            tail = text[matches[-1].end():]
            snippet = _clip_sentence(tail.lstrip("*: \n"))
            if not snippet.strip() and "\n" in tail:
                snippet = tail.strip().split("\n")[0]
            answer = _answer_in_snippet(snippet)
            if answer:
                return Extraction(answer, source)
    if mode == "marked":
        return Extraction(None, "none", note="no \\boxed{} or answer marker")
    group = _span_group(text)
    spans, broken = _scan_math(text)
    masked = _blank(text, sorted([(a, b) for a, b, _ in spans] + broken))
    numbers = list(_PLAIN_NUMBER.finditer(masked))
    # The last expression: a math span, unless a plain number comes after it.
    if group and not (numbers and numbers[-1].start() > spans[-1][1]):
        return Extraction(group[0], "last_math", parts=group[1])
    stripped = _blank(text, broken).strip()
    if stripped and len(stripped) <= 80 and "\n" not in stripped and not re.search(r"[A-Za-z]{3,}\s+[A-Za-z]{3,}\s+[A-Za-z]{3,}", stripped):
        if _has_prose(stripped):  # "The value is 5 or 6": what follows the verb is the answer
            tail = _answer_in_snippet(stripped)
            if tail and _NUMBER_WITH_UNIT.match(tail):  # "1,000.99m²", "72 dollars"
                tail = _last_number(tail)
            if tail:
                return Extraction(plain_decimal_comma(tail), "whole")
        return Extraction(plain_decimal_comma(stripped), "whole")
    if numbers:
        return Extraction(plain_decimal_comma(numbers[-1].group().strip()), "last_number")
    return Extraction(None, "none", note="no answer found")


def extract_reference(text: str) -> Extraction:
    """A reference is usually the bare answer; when it is a worked solution, extract like a completion."""
    stripped = text.strip()
    if _BOX.search(stripped):
        return extract(stripped, allow_unclosed_box=True)
    spans = _math_spans(stripped)
    if spans:
        outside = stripped
        for start, end, _ in reversed(spans):
            outside = outside[:start] + outside[end:]
        if len(outside.strip()) < 40:
            # "$1$ and $2$ and $3$", "$21,16$ or $11$", "$125$ miles"
            contents = [c.strip() for _, _, c in spans if c.strip()]
            joined = " , ".join(contents) if _CONNECTOR_WORDS.search(outside) or "," in outside else " ".join(contents)
            return Extraction(joined + (" " + outside.strip() if outside.strip() and not _CONNECTOR_WORDS.search(outside) else ""), "reference")
        return extract(stripped, allow_unclosed_box=True)
    if len(stripped) > 200:
        return extract(stripped, allow_unclosed_box=True)
    return Extraction(plain_decimal_comma(stripped) or None, "reference")
