"""linear_system: solve a system of linear equations over bounded integers (z3-unique).

Integer unknowns in 0..max_value are planted and random integer equations are built around
them. With fewer equations than unknowns the bounds must pin the answer down: z3 proves that
no other integer vector in the box satisfies the system (else new equations are drawn).
Scoring substitutes the answer into every equation and checks the bounds.
"""

from __future__ import annotations

import re

from typing import Any

from pydantic import Field, model_validator

from envs.base import (AnswerFormatError, EnvConfig, Environment, Generation, Instance, Problem, accept,
                       answer_format, register, reject)
from verifiers.contract import Verdict


class LinearSystemConfig(EnvConfig):
    n_vars: int = Field(3, ge=2, le=8, description="number of unknowns x1..xn")
    missing_equations: int = Field(0, ge=0, le=2, description="equations fewer than unknowns (the bounds then matter)")
    max_coefficient: int = Field(9, ge=1, le=20, description="coefficients are drawn from -max..max")
    max_value: int = Field(9, ge=1, le=50, description="unknowns are integers in 0..max_value")

    @model_validator(mode="after")
    def _at_least_one_equation(self) -> "LinearSystemConfig":
        if self.missing_equations >= self.n_vars:
            raise ValueError("missing_equations must be smaller than n_vars")
        return self


def term_text(coef: int, var: int, first: bool) -> str:
    sign = "-" if coef < 0 else ("" if first else "+")
    mag = "" if abs(coef) == 1 else f"{abs(coef)}*"
    return (f"{sign}{mag}x{var}" if first else f" {sign} {mag}x{var}")


@register
class LinearSystem(Environment):
    name = "linear_system"
    version = 1
    description = "Solve a system of linear equations in bounded integers (unique solution, z3-checked)."
    Config = LinearSystemConfig
    easiest = {"n_vars": 2, "missing_equations": 0, "max_coefficient": 3, "max_value": 5}
    hardest = {"n_vars": 8, "missing_equations": 2, "max_coefficient": 20, "max_value": 50}
    max_attempts = 20
    solver_rlimit = 1_000_000

    def generate(self, gen: Generation, config: LinearSystemConfig) -> Problem:
        import z3

        rng, n = gen.rng, config.n_vars
        m = n - config.missing_equations
        for _ in gen.tries():
            x = [rng.randint(0, config.max_value) for _ in range(n)]
            rows = []
            for _ in range(m):
                coefs = [rng.randint(-config.max_coefficient, config.max_coefficient) for _ in range(n)]
                if not any(coefs):
                    coefs[rng.randrange(n)] = 1
                rows.append((coefs, sum(a * v for a, v in zip(coefs, x))))
            var = [z3.Int(f"x{i + 1}") for i in range(n)]
            solver = gen.solver()
            solver.add([z3.And(v >= 0, v <= config.max_value) for v in var])
            solver.add([z3.Sum([a * v for a, v in zip(coefs, var)]) == rhs for coefs, rhs in rows])
            solver.add(z3.Or([v != value for v, value in zip(var, x)]))
            if solver.check() != z3.unsat:
                continue
            equations = ["".join(term_text(a, i + 1, not any(coefs[:i])) for i, a in enumerate(coefs) if a) + f" = {rhs}"
                         for coefs, rhs in rows]
            prompt = (
                f"Find integers x1 to x{n}, each between 0 and {config.max_value} inclusive, that satisfy:\n\n"
                + "\n".join(equations)
                + answer_format(f"`x1 = VALUE, x2 = VALUE, ...` for all {n} unknowns.", "x1 = 4, x2 = 0, ..."))
            return Problem(prompt=prompt, data={"n": n, "rows": rows, "max_value": config.max_value},
                           solution={f"x{i + 1}": v for i, v in enumerate(x)})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return ", ".join(f"{name} = {value}" for name, value in solution.items())

    def parse_answer(self, answer: str, instance: Instance) -> dict[int, int]:
        pairs = re.findall(r"x\s*([0-9]+)\s*(?:=|:)\s*([+-]?\s*[0-9]+)", answer, re.IGNORECASE)
        if not pairs:
            raise AnswerFormatError("no `xi = VALUE` pairs found")
        values: dict[int, int] = {}
        for index, value in pairs:
            value = "".join(value.split())
            if len(index) > 6 or len(value) > 20:
                raise AnswerFormatError(f"x{index[:8]} = {value[:12]}... is not a plausible value")
            i, v = int(index), int(value)
            if values.get(i, v) != v:
                raise AnswerFormatError(f"x{i} is given two values")
            values[i] = v
        return values

    def check(self, instance: Instance, values: dict[int, int]) -> Verdict:
        n, top = instance.data["n"], instance.data["max_value"]
        for i, v in values.items():
            if not 1 <= i <= n:
                return reject("unknown_variable", f"x{i} is not an unknown of the system (x1..x{n})")
            if not 0 <= v <= top:
                return reject("bounds", f"x{i} = {v} is outside 0..{top}")
        missing = [f"x{i}" for i in range(1, n + 1) if i not in values]
        if missing:
            return reject("complete", f"no value for {', '.join(missing)}")
        for k, (coefs, rhs) in enumerate(instance.data["rows"]):
            lhs = sum(a * values[i + 1] for i, a in enumerate(coefs))
            if lhs != rhs:
                return reject("equation", f"equation {k + 1} gives {lhs}, not {rhs}")
        return accept()
