"""lcs: a longest common subsequence of two strings (oracle: dynamic programming).

Two random strings over the first `alphabet_size` lowercase letters; the second is derived
from the first by random edits so that they share a long subsequence. The optimum length is
computed by the classic DP; any common subsequence of that length is accepted (there are
usually several).
"""

from __future__ import annotations

import string

from typing import Any

from pydantic import Field

from envs.base import (AnswerFormatError, EnvConfig, Environment, Generation, Instance, Problem, accept,
                       answer_format, register, reject)
from verifiers.contract import Verdict


class LcsConfig(EnvConfig):
    length: int = Field(12, ge=4, le=60, description="length of each string")
    alphabet_size: int = Field(4, ge=2, le=26, description="letters a.. used")
    edit_rate: float = Field(0.4, ge=0.0, le=1.0, description="share of positions the second string changes (1: independent strings)")


def lcs_table(a: str, b: str) -> list[list[int]]:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            table[i][j] = table[i + 1][j + 1] + 1 if a[i] == b[j] else max(table[i + 1][j], table[i][j + 1])
    return table


def one_lcs(a: str, b: str) -> str:
    table, i, j, out = lcs_table(a, b), 0, 0, []
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            out.append(a[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return "".join(out)


def is_subsequence(small: str, big: str) -> bool:
    it = iter(big)
    return all(ch in it for ch in small)


@register
class Lcs(Environment):
    name = "lcs"
    version = 1
    kind = "oracle"
    description = "Find a longest common subsequence of two strings (dynamic-programming oracle)."
    Config = LcsConfig
    easiest = {"length": 4, "alphabet_size": 2, "edit_rate": 0.0}
    hardest = {"length": 60, "alphabet_size": 26, "edit_rate": 1.0}
    max_attempts = 20

    def generate(self, gen: Generation, config: LcsConfig) -> Problem:
        rng = gen.rng
        letters = string.ascii_lowercase[: config.alphabet_size]
        for _ in gen.tries():
            a = "".join(rng.choice(letters) for _ in range(config.length))
            b = "".join(rng.choice(letters) if rng.random() < config.edit_rate else ch for ch in a)
            best = one_lcs(a, b)
            if not best:  # an empty answer would be unwritable; draw again
                continue
            prompt = (
                f"Find a longest common subsequence of these two strings. A subsequence keeps some of the "
                f"characters in their original order (not necessarily adjacent).\n\nA = {a}\nB = {b}"
                + answer_format("the subsequence itself, as one string of letters without spaces.", "abca"))
            return Problem(prompt=prompt, data={"a": a, "b": b, "optimum": len(best)}, solution=best,
                           metadata={"optimum": len(best)})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return solution

    def parse_answer(self, answer: str, instance: Instance) -> str:
        text = answer.strip().strip("\"'`")
        if not text or not text.isalpha():
            raise AnswerFormatError(f"expected one string of letters, got {answer[:40]!r}")
        return text

    def check(self, instance: Instance, answer: str) -> Verdict:
        a, b, best = instance.data["a"], instance.data["b"], instance.data["optimum"]
        if not is_subsequence(answer, a):
            return reject("subsequence_of_a", f"{answer!r} is not a subsequence of A")
        if not is_subsequence(answer, b):
            return reject("subsequence_of_b", f"{answer!r} is not a subsequence of B")
        if len(answer) != best:
            return reject("longest", f"length {len(answer)}; the longest has length {best}")
        return accept(length=len(answer))
