"""job_shop: schedule jobs on machines within a makespan bound (bound from z3's optimum).

Every job visits every machine once, in its own order, for a given duration. z3 proves the
optimal makespan (binary search between a lower bound and a greedy schedule, each step a
sat/unsat question under a deterministic resource limit); the bound given to the model is
`floor(optimum * (1 + slack))`. Any schedule that respects job order, never runs two
operations on one machine at once, and finishes within the bound is accepted.
"""

from __future__ import annotations

import math
import re

from typing import Any

from pydantic import Field

from envs.base import (AnswerFormatError, EnvConfig, Environment, Generation, Instance, Problem, accept,
                       answer_format, parse_int_list, register, reject)
from verifiers.contract import Verdict


class JobShopConfig(EnvConfig):
    n_jobs: int = Field(3, ge=2, le=6, description="number of jobs")
    n_machines: int = Field(3, ge=2, le=5, description="number of machines; each job uses each machine once")
    max_duration: int = Field(9, ge=2, le=20, description="operation durations are drawn from 1..max_duration")
    slack: float = Field(0.0, ge=0.0, le=0.5, description="bound = floor(optimal makespan * (1 + slack))")


def greedy_schedule(jobs: list[list[tuple[int, int]]]) -> list[list[int]]:
    """Operations round-robin over jobs, each as early as possible: a valid (not optimal) schedule."""
    machine_free: dict[int, int] = {}
    job_free = [0] * len(jobs)
    starts: list[list[int]] = [[] for _ in jobs]
    for step in range(max(len(j) for j in jobs)):
        for j, ops in enumerate(jobs):
            machine, duration = ops[step]
            start = max(job_free[j], machine_free.get(machine, 0))
            starts[j].append(start)
            job_free[j] = machine_free[machine] = start + duration
    return starts


def makespan(jobs: list[list[tuple[int, int]]], starts: list[list[int]]) -> int:
    return max(starts[j][-1] + ops[-1][1] for j, ops in enumerate(jobs))


def optimal_schedule(gen: Generation, jobs: list[list[tuple[int, int]]]) -> list[list[int]] | None:
    """A schedule of least makespan, proved by z3, or None if the resource limit ran out first."""
    import z3

    ctx = z3.Context()  # a fresh context: the model (our reference) then depends only on the instance
    start = [[z3.Int(f"s{j}_{k}", ctx=ctx) for k in range(len(ops))] for j, ops in enumerate(jobs)]
    horizon = z3.Int("makespan", ctx=ctx)
    solver = gen.solver(ctx=ctx)
    for j, ops in enumerate(jobs):
        solver.add(start[j][0] >= 0)
        for k in range(len(ops) - 1):
            solver.add(start[j][k + 1] >= start[j][k] + ops[k][1])
        solver.add(start[j][-1] + ops[-1][1] <= horizon)
    by_machine: dict[int, list[tuple[int, int]]] = {}
    for j, ops in enumerate(jobs):
        for k, (machine, _) in enumerate(ops):
            by_machine.setdefault(machine, []).append((j, k))
    for members in by_machine.values():
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                (j1, k1), (j2, k2) = members[a], members[b]
                solver.add(z3.Or(start[j1][k1] + jobs[j1][k1][1] <= start[j2][k2],
                                 start[j2][k2] + jobs[j2][k2][1] <= start[j1][k1]))
    low = max(max(sum(d for _, d in ops) for ops in jobs),
              max(sum(jobs[j][k][1] for j, k in members) for members in by_machine.values()))
    best = greedy_schedule(jobs)
    high = makespan(jobs, best)
    while low < high:  # invariant: `best` achieves `high`, nothing below `low` is feasible
        mid = (low + high) // 2
        result = solver.check(horizon <= mid)
        if result == z3.sat:
            model = solver.model()
            best = [[model.eval(v, model_completion=True).as_long() for v in row] for row in start]
            high = makespan(jobs, best)
        elif result == z3.unsat:
            low = mid + 1
        else:
            return None
    return best


@register
class JobShop(Environment):
    name = "job_shop"
    version = 1
    description = "Schedule a job shop so that every job finishes within a makespan bound (z3-proved optimum)."
    Config = JobShopConfig
    easiest = {"n_jobs": 2, "n_machines": 2, "max_duration": 2, "slack": 0.5}
    hardest = {"n_jobs": 6, "n_machines": 5, "max_duration": 20, "slack": 0.0}
    max_attempts = 10
    solver_rlimit = 20_000_000

    def generate(self, gen: Generation, config: JobShopConfig) -> Problem:
        rng = gen.rng
        for _ in gen.tries():
            jobs = []
            for _ in range(config.n_jobs):
                machines = list(range(config.n_machines))
                rng.shuffle(machines)
                jobs.append([(m, rng.randint(1, config.max_duration)) for m in machines])
            schedule = optimal_schedule(gen, jobs)
            if schedule is None:
                continue
            optimum = makespan(jobs, schedule)
            bound = math.floor(optimum * (1 + config.slack))
            lines = [f"Job {j + 1}: " + ", then ".join(f"machine {m + 1} for {d}" for m, d in ops)
                     for j, ops in enumerate(jobs)]
            prompt = (
                f"A workshop has {config.n_machines} machines and {config.n_jobs} jobs. Each job is a sequence of "
                f"operations that must run in the order given; an operation occupies its machine for its whole "
                f"duration, a machine runs one operation at a time, and operations cannot be interrupted. "
                f"Time starts at 0.\n\n" + "\n".join(lines) + "\n\n"
                f"Give a start time for every operation so that all jobs are finished by time {bound}."
                + answer_format(f"one line per job, `Job J: t1, t2, ...` with the integer start times of that "
                                f"job's operations in the order listed ({config.n_machines} per job).",
                                "\nJob 1: 0, 4, 9\nJob 2: ...\n"))
            return Problem(prompt=prompt, data={"jobs": jobs, "bound": bound},
                           solution=schedule, metadata={"optimal_makespan": optimum, "bound": bound})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return "\n".join(f"Job {j + 1}: " + ", ".join(map(str, row)) for j, row in enumerate(solution))

    def parse_answer(self, answer: str, instance: Instance) -> list[list[int]]:
        jobs = instance.data["jobs"]
        starts: dict[int, list[int]] = {}
        for line in filter(None, (l.strip() for l in answer.splitlines())):
            match = re.fullmatch(r"(?i)job\s*([0-9]{1,6})\s*:\s*(.*)", line)
            if not match:
                raise AnswerFormatError(f"cannot read line {line[:60]!r}; expected `Job J: t1, t2, ...`")
            j = int(match.group(1))
            if not 1 <= j <= len(jobs) or j in starts:
                raise AnswerFormatError(f"job {j} is unknown or listed twice")
            starts[j] = parse_int_list(match.group(2), f"start times of job {j}")
            if len(starts[j]) != len(jobs[j - 1]):
                raise AnswerFormatError(f"job {j} needs {len(jobs[j - 1])} start times, got {len(starts[j])}")
        if len(starts) != len(jobs):
            raise AnswerFormatError(f"expected {len(jobs)} job lines, got {len(starts)}")
        return [starts[j + 1] for j in range(len(jobs))]

    def check(self, instance: Instance, starts: list[list[int]]) -> Verdict:
        jobs, bound = instance.data["jobs"], instance.data["bound"]
        intervals: dict[int, list[tuple[int, int, str]]] = {}
        for j, ops in enumerate(jobs):
            for k, (machine, duration) in enumerate(ops):
                s = starts[j][k]
                label = f"job {j + 1} operation {k + 1}"
                if s < 0:
                    return reject("start_time", f"{label} starts at {s} < 0")
                if k and s < starts[j][k - 1] + ops[k - 1][1]:
                    return reject("job_order", f"{label} starts at {s}, before operation {k} ends "
                                               f"at {starts[j][k - 1] + ops[k - 1][1]}")
                if s + duration > bound:
                    return reject("makespan", f"{label} ends at {s + duration}, after the bound {bound}")
                intervals.setdefault(machine, []).append((s, s + duration, label))
        for machine, spans in intervals.items():
            spans.sort()
            for (s1, e1, a), (s2, _, b) in zip(spans, spans[1:]):
                if s2 < e1:
                    return reject("machine_overlap", f"on machine {machine + 1}, {b} starts at {s2} while {a} runs until {e1}")
        return accept(makespan=makespan(jobs, starts))
