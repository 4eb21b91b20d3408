"""A task to probe each built-in verifier with, when the caller names none."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProbeCase:
    reference: Any
    example: str  # a completion that deserves full reward
    params: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None


_ADD_STDIO = {"tests": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "5 7\n", "stdout": "12\n"}]}
_ADD_CALL = {"fn_name": "add", "tests": [{"args": [1, 2], "expected": 3}, {"args": [5, 7], "expected": 12}]}
_ADD_ASSERT = {"test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(5, 7) == 12\n",
               "entry_point": "add"}
_ADD_FUNCTION = "```python\ndef add(a, b):\n    return a + b\n```"

BUILTIN_CASES: dict[str, list[ProbeCase]] = {
    "math": [ProbeCase("42", "So the total is \\boxed{42}.", prompt="What is 6 times 7? Put the answer in \\boxed{}.")],
    "exact": [ProbeCase("Paris", "Paris", prompt="What is the capital of France? Answer with one word.")],
    "numeric": [ProbeCase("3.14", "3.14", prompt="Give pi to two decimals.")],
    "choice": [ProbeCase("B", "The answer is (B).", prompt="Which is a prime? (A) 4 (B) 5 (C) 6 (D) 8")],
    "regex": [ProbeCase(r"\d{4}-\d{2}-\d{2}", "2024-01-31", prompt="Write a date as YYYY-MM-DD.")],
    "format": [ProbeCase(None, "<think>\n6 times 7 is 42.\n</think>\n<answer>\n42\n</answer>")],
    "code": [
        ProbeCase(_ADD_STDIO, "```python\na, b = map(int, input().split())\nprint(a + b)\n```"),
        ProbeCase(_ADD_CALL, _ADD_FUNCTION),
        ProbeCase(_ADD_ASSERT, _ADD_FUNCTION),
    ],
    "composite": [ProbeCase("42", "<think>\n6 times 7.\n</think>\n<answer>\n\\boxed{42}\n</answer>",
                            params={"parts": [{"verifier": "math", "weight": 0.9},
                                              {"verifier": "format", "weight": 0.1}]})],
    "judge": [ProbeCase({"prompt": "What is the capital of France?", "answer": "Paris"},
                        "The capital of France is Paris.", params={"mode": "reference"})],
    "grm": [ProbeCase({"prompt": "What is the capital of France?"}, "The capital of France is Paris.")],
}
