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
    r"""The contents of every `\boxed{...}` / `\fbox{...}` in order, with nested braces balanced."""
    found: list[str] = []
    pattern = re.compile(r"\\(?:" + "|".join(commands) + r")\s*\{")
    for match in pattern.finditer(text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    found.append(text[start:i])
                    break
    return found


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
