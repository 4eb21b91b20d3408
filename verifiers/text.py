"""Text helpers shared by verifiers: reasoning blocks, boxed answers, normalisation."""

from __future__ import annotations

import re
import string
import unicodedata

_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)
_PUNCT_TABLE = str.maketrans("", "", string.punctuation)


def after_reasoning(text: str) -> str:
    """Only what follows a closed reasoning block counts; text without one is returned whole."""
    last = None
    for last in _THINK_CLOSE.finditer(text):
        pass
    return text[last.end():] if last else text


def boxed_contents(text: str, commands: tuple[str, ...] = ("boxed", "fbox")) -> list[str]:
    r"""The contents of every `\boxed{...}` / `\fbox{...}` in order, with nested braces balanced.

    Linear in the text: every brace is matched in one pass, so thousands of unclosed `\boxed{`
    cost no more than one (scanning onward from each opening would be quadratic).
    """
    opens = [m.end() - 1 for m in re.finditer(r"\\(?:" + "|".join(commands) + r")\s*\{", text)]
    if not opens:
        return []
    closing = matching_braces(text)
    return [text[start + 1:closing[start]] for start in opens if start in closing]


_BRACE = re.compile(r"[{}]")


def matching_braces(text: str) -> dict[int, int]:
    """Position of each `{` that is closed -> position of the `}` that closes it (one pass)."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for match in _BRACE.finditer(text):
        if match.group() == "{":
            stack.append(match.start())
        elif stack:
            pairs[stack.pop()] = match.start()
    return pairs


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
