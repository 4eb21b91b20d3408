"""planted_sat: satisfy a random 3-CNF formula with a planted solution.

A hidden assignment is drawn, then clauses over three distinct variables are drawn at random
and kept only if the hidden assignment satisfies them, so the formula is satisfiable by
construction. Kept naively, such formulas give the answer away: every literal shows up more
often with its planted sign, and a majority vote solves them. With `hide_polarity` (the
default), a clause with 1, 2 or 3 true literals is kept with probability 1, 0.6 or 0.4, which
makes a literal's expected count the same for both signs (the "q-hidden" construction). With
`verify_with_z3`, z3 also confirms satisfiability (a guard against generator bugs). Any
satisfying assignment is accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from envs.base import (AnswerFormatError, EnvConfig, Environment, Generation, Instance, Problem, accept,
                       answer_format, parse_int_list, register, reject)
from verifiers.contract import Verdict


# keep-probability of a clause by its number of true literals under the planted assignment:
# 3/8*1*1 + 3/8*0.6*2 + 1/8*0.4*3 = 1.5 * (3/8*1 + 3/8*0.6 + 1/8*0.4), i.e. signs balance
KEEP_HIDDEN = {1: 1.0, 2: 0.6, 3: 0.4}


class PlantedSatConfig(EnvConfig):
    n_vars: int = Field(12, ge=3, le=100, description="number of variables x1..xn")
    clause_ratio: float = Field(4.2, ge=1.0, le=6.0, description="clauses per variable (about 4.2 is the hardest region for random 3-SAT)")
    hide_polarity: bool = Field(True, description="balance each literal's signs so a majority vote does not reveal the planted assignment")
    verify_with_z3: bool = Field(True, description="have z3 confirm satisfiability of the generated formula")


@register
class PlantedSat(Environment):
    name = "planted_sat"
    version = 1
    description = "Find a satisfying assignment of a random 3-CNF formula (planted solution)."
    Config = PlantedSatConfig
    easiest = {"n_vars": 3, "clause_ratio": 1.0}
    hardest = {"n_vars": 100, "clause_ratio": 6.0}
    max_attempts = 1
    solver_rlimit = 20_000_000

    def generate(self, gen: Generation, config: PlantedSatConfig) -> Problem:
        import z3

        rng, n = gen.rng, config.n_vars
        for _ in gen.tries():
            hidden = [rng.random() < 0.5 for _ in range(n)]
            clauses: list[list[int]] = []
            wanted = round(config.clause_ratio * n)
            for _ in range(64 * wanted):  # a draw is kept with probability 0.65 or 7/8: never near this cap
                if len(clauses) == wanted:
                    break
                variables = rng.sample(range(1, n + 1), 3)
                clause = [v if rng.random() < 0.5 else -v for v in variables]
                true_literals = sum((lit > 0) == hidden[abs(lit) - 1] for lit in clause)
                if true_literals and rng.random() < (KEEP_HIDDEN[true_literals] if config.hide_polarity else 1.0):
                    clauses.append(clause)
            if len(clauses) < wanted:
                continue
            if config.verify_with_z3:
                x = [z3.Bool(f"x{i}") for i in range(1, n + 1)]
                solver = gen.solver()
                solver.add([z3.Or([x[abs(l) - 1] if l > 0 else z3.Not(x[abs(l) - 1]) for l in c]) for c in clauses])
                if solver.check() != z3.sat:
                    raise AssertionError(f"{gen.label}: planted formula not satisfiable (generator bug)")
            text = " AND ".join("(" + " OR ".join(f"x{l}" if l > 0 else f"NOT x{-l}" for l in c) + ")" for c in clauses)
            prompt = (
                f"Find true/false values for the variables x1 to x{n} that make this formula true:\n\n{text}"
                + answer_format(f"one signed integer per variable, separated by spaces: `i` if xi is true, "
                                f"`-i` if xi is false, covering every variable 1 to {n} exactly once.",
                                "1 -2 3 ..."))
            return Problem(prompt=prompt, data={"n": n, "clauses": clauses},
                           solution=[i + 1 if v else -(i + 1) for i, v in enumerate(hidden)],
                           metadata={"clauses": len(clauses)})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return " ".join(map(str, solution))

    def parse_answer(self, answer: str, instance: Instance) -> list[int]:
        literals = parse_int_list(answer, "literals")
        if not literals:
            raise AnswerFormatError("no literals in the answer")
        return literals

    def check(self, instance: Instance, literals: list[int]) -> Verdict:
        n = instance.data["n"]
        value: dict[int, bool] = {}
        for lit in literals:
            var = abs(lit)
            if not 1 <= var <= n:
                return reject("unknown_variable", f"x{var} is not a variable of the formula (x1..x{n})")
            if var in value:
                return reject("each_once", f"x{var} is assigned more than once")
            value[var] = lit > 0
        missing = [v for v in range(1, n + 1) if v not in value]
        if missing:
            return reject("complete", f"no value for x{missing[0]}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
        for i, clause in enumerate(instance.data["clauses"]):
            if not any(value[abs(l)] == (l > 0) for l in clause):
                return reject("clause", f"clause {i + 1} {clause} is false")
        return accept()
