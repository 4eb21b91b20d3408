"""cryptarithm: letters stand for digits in an addition; find the digits (unique, z3-checked).

Random addends are planted and their digits replaced by letters (one letter per digit).
While z3 finds another assignment (distinct digits, no leading zero) that also solves the
sum, a randomly chosen letter's digit is revealed as a hint; the puzzle is shown once z3
proves the solution unique. Scoring checks the sum under the given assignment and the hints;
letters not in the puzzle are rejected.
"""

from __future__ import annotations

import re
import string

from typing import Any

from pydantic import Field

from envs.base import (AnswerFormatError, EnvConfig, Environment, Generation, GenerationBudgetExceeded, Instance, Problem, accept,
                       answer_format, register, reject)
from verifiers.contract import Verdict


class CryptarithmConfig(EnvConfig):
    n_addends: int = Field(2, ge=2, le=4, description="how many words are added")
    word_length: int = Field(3, ge=2, le=5, description="digits per addend")


def word_value(word: str, digits: dict[str, int]) -> int:
    value = 0
    for letter in word:
        value = value * 10 + digits[letter]
    return value


@register
class Cryptarithm(Environment):
    name = "cryptarithm"
    version = 1
    description = "Solve an addition where each letter is a distinct digit (unique solution, z3-checked)."
    Config = CryptarithmConfig
    easiest = {"n_addends": 2, "word_length": 2}
    hardest = {"n_addends": 4, "word_length": 5}
    max_attempts = 1  # hints are added until unique: at most one solver call per letter
    solver_rlimit = 2_000_000

    def generate(self, gen: Generation, config: CryptarithmConfig) -> Problem:
        import z3

        rng = gen.rng
        low, high = 10 ** (config.word_length - 1), 10**config.word_length - 1
        for _ in gen.tries():
            addends = [rng.randint(low, high) for _ in range(config.n_addends)]
            total = sum(addends)
            numbers = [*addends, total]
            used = sorted({d for x in numbers for d in str(x)})
            letters = rng.sample(string.ascii_uppercase, len(used))
            letter_of = dict(zip(used, letters))
            words = ["".join(letter_of[d] for d in str(x)) for x in numbers]
            digits = {letter_of[d]: int(d) for d in used}
            var = {letter: z3.Int(letter) for letter in digits}
            solver = gen.solver()
            solver.add([z3.And(v >= 0, v <= 9) for v in var.values()])
            solver.add(z3.Distinct(list(var.values())))
            solver.add([var[w[0]] != 0 for w in words])
            value = lambda w: z3.Sum([var[ch] * 10 ** (len(w) - 1 - i) for i, ch in enumerate(w)])  # noqa: E731
            solver.add(z3.Sum([value(w) for w in words[:-1]]) == value(words[-1]))
            solver.add(z3.Or([var[l] != d for l, d in digits.items()]))
            hidden = sorted(digits)
            rng.shuffle(hidden)
            hints: dict[str, int] = {}
            while solver.check() != z3.unsat:  # also on `unknown`: a hint makes it easier
                if not hidden:  # every letter given and still not proved unique: give up loudly
                    raise GenerationBudgetExceeded(f"{gen.label}: z3 could not prove uniqueness")
                letter = hidden.pop()
                hints[letter] = digits[letter]
                solver.add(var[letter] == digits[letter])
            width = len(words[-1])
            sum_text = "\n".join(w.rjust(width + 2) for w in words[:-1]) + "\n" + "-" * (width + 2) + "\n" + words[-1].rjust(width + 2)
            hint_text = (f"\n\nGiven: {', '.join(f'{l}={d}' for l, d in sorted(hints.items()))}." if hints else "")
            prompt = (
                f"In this addition each letter stands for a digit; different letters are different digits, "
                f"and no number starts with 0.\n\n"
                + " + ".join(words[:-1]) + f" = {words[-1]}\n\n{sum_text}{hint_text}\n\nFind the digit of every letter."
                + answer_format("`LETTER=DIGIT` for every letter in the puzzle, separated by commas.",
                                "A=1, B=7, ..."))
            return Problem(prompt=prompt, data={"words": words, "hints": hints},
                           solution=dict(sorted(digits.items())), metadata={"hints": len(hints)})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return ", ".join(f"{letter}={digit}" for letter, digit in solution.items())

    def parse_answer(self, answer: str, instance: Instance) -> dict[str, int]:
        pairs = re.findall(r"([A-Za-z])\s*(?:=|:|->|is)\s*(-?[0-9]+)", answer)
        if not pairs:
            raise AnswerFormatError("no `LETTER=DIGIT` pairs found")
        digits: dict[str, int] = {}
        for letter, digit in pairs:
            letter = letter.upper()
            if len(digit) > 3:
                raise AnswerFormatError(f"{letter}={digit[:12]}... is not a digit")
            if letter in digits and digits[letter] != int(digit):
                raise AnswerFormatError(f"{letter} is given two digits")
            digits[letter] = int(digit)
        return digits

    def check(self, instance: Instance, digits: dict[str, int]) -> Verdict:
        words = instance.data["words"]
        letters = {ch for w in words for ch in w}
        for letter, digit in digits.items():
            if letter not in letters:
                return reject("unknown_letter", f"{letter} does not appear in the puzzle")
            if not 0 <= digit <= 9:
                return reject("digit_range", f"{letter}={digit} is not a digit")
        missing = sorted(letters - digits.keys())
        if missing:
            return reject("complete", f"no digit for {', '.join(missing)}")
        by_digit: dict[int, str] = {}
        for letter, digit in sorted(digits.items()):
            if digit in by_digit:
                return reject("distinct", f"{by_digit[digit]} and {letter} are both {digit}")
            by_digit[digit] = letter
        for letter, digit in instance.data["hints"].items():
            if digits[letter] != digit:
                return reject("hint", f"{letter} is given as {digit}, the answer says {digits[letter]}")
        for w in words:
            if digits[w[0]] == 0:
                return reject("leading_zero", f"{w} would start with 0")
        left = sum(word_value(w, digits) for w in words[:-1])
        right = word_value(words[-1], digits)
        if left != right:
            return reject("sum", f"the addends add up to {left}, but {words[-1]} = {right}")
        return accept()
