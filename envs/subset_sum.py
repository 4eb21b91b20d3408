"""subset_sum: pick numbers from a list that add up to a target (planted solution).

A random subset of distinct positive integers is planted and its sum is the target; any
subset that hits the target is accepted. Numbers are distinct, so an answer written as
values is unambiguous; a value not in the list, or used twice, is rejected.
"""

from __future__ import annotations

from collections import Counter

from typing import Any

from pydantic import Field, model_validator

from envs.base import (AnswerFormatError, EnvConfig, Environment, Generation, Instance, Problem, accept,
                       answer_format, parse_int_list, register, reject)
from verifiers.contract import Verdict


class SubsetSumConfig(EnvConfig):
    n_numbers: int = Field(10, ge=4, le=40, description="how many numbers are listed")
    max_value: int = Field(100, ge=20, le=1_000_000, description="numbers are drawn from 1..max_value")
    min_subset: int = Field(2, ge=1, le=20, description="the planted subset has at least this many numbers")

    @model_validator(mode="after")
    def _consistent(self) -> "SubsetSumConfig":
        if self.max_value < 2 * self.n_numbers:
            raise ValueError("max_value must be at least 2 * n_numbers (the numbers are distinct)")
        if self.min_subset >= self.n_numbers:
            raise ValueError("min_subset must be smaller than n_numbers")
        return self


@register
class SubsetSum(Environment):
    name = "subset_sum"
    version = 1
    description = "Choose numbers from a list whose sum is exactly the target (planted)."
    Config = SubsetSumConfig
    easiest = {"n_numbers": 4, "max_value": 20, "min_subset": 1}
    hardest = {"n_numbers": 40, "max_value": 1_000_000, "min_subset": 20}
    max_attempts = 1  # planting always succeeds at the first draw

    def generate(self, gen: Generation, config: SubsetSumConfig) -> Problem:
        rng = gen.rng
        for _ in gen.tries():
            numbers = rng.sample(range(1, config.max_value + 1), config.n_numbers)
            subset = rng.sample(numbers, rng.randint(config.min_subset, config.n_numbers - 1))
            target = sum(subset)
            prompt = (
                f"Here is a list of {len(numbers)} distinct positive integers:\n{', '.join(map(str, numbers))}\n\n"
                f"Choose some of them (each at most once) so that the chosen numbers add up to exactly {target}."
                + answer_format("the chosen numbers, separated by commas, in any order.",
                                "12, 7, 31"))
            return Problem(prompt=prompt, data={"numbers": numbers, "target": target},
                           solution=sorted(subset), metadata={"target": target})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return ", ".join(map(str, solution))

    def parse_answer(self, answer: str, instance: Instance) -> list[int]:
        values = parse_int_list(answer, "chosen numbers")
        if not values:
            raise AnswerFormatError("no numbers in the answer")
        return values

    def check(self, instance: Instance, answer: list[int]) -> Verdict:
        available = Counter(instance.data["numbers"])
        used = Counter(answer)
        for value, count in used.items():
            if available[value] == 0:
                return reject("from_list", f"{value} is not in the list", answer=answer)
            if count > available[value]:
                return reject("each_once", f"{value} is used {count} times", answer=answer)
        total = sum(answer)
        if total != instance.data["target"]:
            return reject("sum", f"the numbers add up to {total}, not {instance.data['target']}", answer=answer)
        return accept(answer=sorted(answer))
