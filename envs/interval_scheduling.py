"""interval_scheduling: the most meetings one room can host (oracle: earliest-finish greedy).

Random intervals [start, end) on a horizon; two intervals conflict when they overlap by more
than a point (one may start exactly when another ends). The optimum count comes from the
earliest-finish-time greedy; any conflict-free selection of that size is accepted.

Partial credit (only with `partial_credit: true`): a conflict-free but smaller selection
earns its size / the optimum.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from envs.base import (AnswerFormatError, EnvConfig, Environment, Generation, Instance, Problem, accept,
                       answer_format, parse_int_list, register, reject)
from verifiers.contract import Verdict


class IntervalSchedulingConfig(EnvConfig):
    n_intervals: int = Field(10, ge=3, le=100, description="number of meetings")
    horizon: int = Field(40, ge=10, le=1000, description="meetings lie within 0..horizon")
    max_length: int = Field(10, ge=1, le=200, description="longest meeting")
    partial_credit: bool = Field(False, description="reward a smaller conflict-free selection with size / optimum")


def max_compatible(intervals: list[tuple[int, int]]) -> list[int]:
    chosen, free_at = [], None
    for i in sorted(range(len(intervals)), key=lambda i: (intervals[i][1], intervals[i][0], i)):
        if free_at is None or intervals[i][0] >= free_at:
            chosen.append(i)
            free_at = intervals[i][1]
    return chosen


@register
class IntervalScheduling(Environment):
    name = "interval_scheduling"
    version = 1
    kind = "oracle"
    description = "Choose the largest set of non-overlapping meetings (greedy oracle)."
    Config = IntervalSchedulingConfig
    easiest = {"n_intervals": 3, "horizon": 10, "max_length": 3}
    hardest = {"n_intervals": 100, "horizon": 1000, "max_length": 200}
    max_attempts = 1
    partial_credit = "only with config partial_credit=true: a conflict-free smaller selection earns size / optimum"

    def generate(self, gen: Generation, config: IntervalSchedulingConfig) -> Problem:
        rng = gen.rng
        for _ in gen.tries():
            intervals = []
            for _ in range(config.n_intervals):
                length = rng.randint(1, min(config.max_length, config.horizon))
                start = rng.randint(0, config.horizon - length)
                intervals.append((start, start + length))
            best = [i + 1 for i in max_compatible(intervals)]
            listing = "\n".join(f"{i + 1}: [{s}, {e})" for i, (s, e) in enumerate(intervals))
            prompt = (
                f"One room, {len(intervals)} meeting requests, each a time interval [start, end). Two meetings "
                f"conflict if they overlap; a meeting may start exactly when another ends.\n\n{listing}\n\n"
                f"Choose as many meetings as possible with no two in conflict."
                + answer_format("the numbers of the chosen meetings, separated by commas, in any order.", "2, 5, 7"))
            return Problem(prompt=prompt, data={"intervals": intervals, "optimum": len(best)}, solution=best,
                           metadata={"optimum": len(best)})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return ", ".join(map(str, solution))

    def parse_answer(self, answer: str, instance: Instance) -> list[int]:
        chosen = parse_int_list(answer, "meeting numbers")
        if not chosen:
            raise AnswerFormatError("no meeting numbers in the answer")
        return chosen

    def check(self, instance: Instance, chosen: list[int]) -> Verdict:
        intervals, best = instance.data["intervals"], instance.data["optimum"]
        for k in chosen:
            if not 1 <= k <= len(intervals):
                return reject("unknown_meeting", f"there is no meeting {k}")
        if len(set(chosen)) != len(chosen):
            return reject("each_once", "a meeting is chosen more than once")
        spans = sorted((intervals[k - 1][0], intervals[k - 1][1], k) for k in chosen)
        for (s1, e1, a), (s2, _, b) in zip(spans, spans[1:]):
            if s2 < e1:
                return reject("conflict", f"meetings {a} [{s1}, {e1}) and {b} overlap")
        if len(chosen) != best:
            verdict = reject("maximum", f"{len(chosen)} meetings; {best} are possible")
            if instance.config.get("partial_credit"):
                verdict.reward = len(chosen) / best
                verdict.components = {"valid": 1.0, "maximum": 0.0}
            return verdict
        return accept(count=len(chosen))
