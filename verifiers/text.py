"""Text helpers shared by verifiers: reasoning blocks, boxed answers, normalisation."""

from __future__ import annotations

import re
import string
import unicodedata

_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)
_PUNCT_TABLE = str.maketrans("", "", string.punctuation)
_BRACE = re.compile(r"[{}]")


def after_reasoning(text: str) -> str:
    """Only what follows a closed reasoning block counts; text without one is returned whole."""
    last = None
    for last in _THINK_CLOSE.finditer(text):
        pass
    return text[last.end():] if last else text


def boxed_contents(text: str, commands: tuple[str, ...] = ("boxed", "fbox"), max_len: int | None = None) -> list[str]:
    r"""The contents of every closed `\boxed{...}` / `\fbox{...}` in order, nested braces balanced;
    with `max_len`, only contents at most that long (longer ones are skipped, never copied).

    Braces are matched in one pass, so the cost is linear in the text, however many boxes are
    left open; `max_len` keeps the copies linear too when boxes are nested deep."""
    pattern = re.compile(r"\\(?:" + "|".join(commands) + r")\s*\{")
    starts = [match.end() for match in pattern.finditer(text)]
    if not starts:
        return []
    closing: dict[int, int] = {}  # index after an opening brace -> index of its closing brace
    stack: list[int] = []
    for match in _BRACE.finditer(text, starts[0] - 1):
        if match.group() == "{":
            stack.append(match.end())
        elif stack:
            closing[stack.pop()] = match.start()
    return [text[start:closing[start]] for start in starts
            if start in closing and (max_len is None or closing[start] - start <= max_len)]


def normalise(text: str, *, case_sensitive: bool = False, whitespace: str = "collapse", punctuation: bool = True) -> str:
    """Unicode-normalised text; `whitespace` is `exact`, `strip`, `collapse` or `remove`."""
    text = unicodedata.normalize("NFKC", text)
    if not case_sensitive:
        text = text.casefold()
    if not punctuation:
        text = text.translate(_PUNCT_TABLE)
    if whitespace == "strip":
        text = text.strip()
    elif whitespace == "collapse":
        text = " ".join(text.split())
    elif whitespace == "remove":
        text = "".join(text.split())
    return text
