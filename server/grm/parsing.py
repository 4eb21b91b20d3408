"""Reading the score a reward model wrote: `Score: 7/10`, `**Rating:** 8 out of 10`, `score = [[6]]`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = r"[-+]?\d+(?:\.\d+)?"
# A score keyword, optional markdown/punctuation, the number, an optional "/ max" or "out of max".
_SCORE_PATTERN = re.compile(
    rf"\b(?:final\s+)?(?:score|rating|grade)\b[*_\s]*(?:\([^)\n]{{0,40}}\))?[*_\s]*[:=\-]?[*_\s]*"
    rf"[\[(]{{0,2}}\s*(?P<value>{_NUMBER})\s*[\])]{{0,2}}"
    rf"(?:\s*(?:/|out\s+of)\s*(?P<max>{_NUMBER}))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Scale:
    """An integer score range, e.g. 1..10. Rewards are the score mapped linearly onto [0, 1]."""

    low: int = 1
    high: int = 10

    def __post_init__(self) -> None:
        if self.high <= self.low:
            raise ValueError(f"score scale needs low < high, got {self.low}..{self.high}")

    @property
    def values(self) -> range:
        return range(self.low, self.high + 1)

    def contains(self, score: float) -> bool:
        return self.low <= score <= self.high

    def to_reward(self, score: float) -> float:
        return min(1.0, max(0.0, (score - self.low) / (self.high - self.low)))

    def candidate(self, value: int) -> str:
        """How a score is written after "Score:"; the "/max" suffix keeps "1" and "10" apart."""
        return f" {value}/{self.high}"


def parse_score(text: str, scale: Scale) -> float | None:
    """The last score in the text that lies on the scale, or None when the text states none.

    The last one wins because critiques often quote the rubric ("scores range from 1 to 10")
    before the verdict. A stated maximum that differs from the scale's ("8/5") is not a score
    on this scale and is skipped rather than rescaled.
    """
    found: float | None = None
    for match in _SCORE_PATTERN.finditer(text):
        value = float(match.group("value"))
        stated_max = match.group("max")
        if stated_max is not None and float(stated_max) != scale.high:
            continue
        if scale.contains(value):
            found = value
    return found
