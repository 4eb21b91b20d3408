"""kenken: fill an n x n Latin square whose cages meet their arithmetic targets (z3-unique).

A Latin square is planted (a shuffled cyclic square), the grid is cut into random connected
cages of at most `max_cage` cells, and each cage gets an operation and the target it has in
the planted square. With `unique`, z3 must prove no other grid fits, else new cages are cut.
Scoring checks the Latin property and every cage, so any fitting grid is accepted.
"""

from __future__ import annotations

import math

from typing import Any

from pydantic import Field

from envs.base import (EnvConfig, Environment, Generation, Instance, Problem, accept, answer_format, parse_grid,
                       register, reject)
from verifiers.contract import Verdict

SYMBOL = {"+": "+", "-": "-", "*": "x", "/": "/", "=": ""}


class KenKenConfig(EnvConfig):
    size: int = Field(4, ge=3, le=6, description="grid side n; digits are 1..n")
    max_cage: int = Field(3, ge=2, le=4, description="largest cage, in cells")
    unique: bool = Field(True, description="require (z3) that the puzzle has exactly one solution")


def latin_square(rng, n: int) -> list[list[int]]:
    rows, cols, symbols = rng.sample(range(n), n), rng.sample(range(n), n), rng.sample(range(1, n + 1), n)
    return [[symbols[(rows[r] + cols[c]) % n] for c in range(n)] for r in range(n)]


def random_cages(rng, n: int, max_cage: int) -> list[list[tuple[int, int]]]:
    unassigned = {(r, c) for r in range(n) for c in range(n)}
    cages = []
    for cell in sorted(unassigned):
        if cell not in unassigned:
            continue
        cage, size = [cell], rng.randint(1, max_cage)
        unassigned.discard(cell)
        while len(cage) < size:
            frontier = sorted({(r + dr, c + dc) for r, c in cage for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0))}
                              & unassigned)
            if not frontier:
                break
            nxt = rng.choice(frontier)
            cage.append(nxt)
            unassigned.discard(nxt)
        cages.append(sorted(cage))
    return cages


def cage_rule(rng, values: list[int]) -> tuple[str, int]:
    if len(values) == 1:
        return "=", values[0]
    if len(values) == 2:
        a, b = max(values), min(values)
        options = ["+", "*", "-"] + (["/"] if a % b == 0 else [])
        op = rng.choice(options)
        return op, {"+": a + b, "*": a * b, "-": a - b, "/": a // b if b else 0}[op]
    op = rng.choice(["+", "*"])
    return op, sum(values) if op == "+" else math.prod(values)


def cage_holds(op: str, target: int, values: list[int]) -> bool:
    if op == "=":
        return values[0] == target
    if op == "+":
        return sum(values) == target
    if op == "*":
        return math.prod(values) == target
    a, b = max(values), min(values)
    return a - b == target if op == "-" else a == b * target


def unique_solution(gen: Generation, n: int, cages: list[dict], solution: list[list[int]]):
    import z3

    cell = [[z3.Int(f"c{r}_{c}") for c in range(n)] for r in range(n)]
    solver = gen.solver()
    solver.add([z3.And(v >= 1, v <= n) for row in cell for v in row])
    solver.add([z3.Distinct(row) for row in cell])
    solver.add([z3.Distinct([cell[r][c] for r in range(n)]) for c in range(n)])
    for cage in cages:
        vs = [cell[r][c] for r, c in cage["cells"]]
        op, t = cage["op"], cage["target"]
        if op in ("=", "+"):
            solver.add(z3.Sum(vs) == t)
        elif op == "*":
            solver.add(z3.Product(vs) == t)
        elif op == "-":
            solver.add(z3.Or(vs[0] - vs[1] == t, vs[1] - vs[0] == t))
        else:
            solver.add(z3.Or(vs[0] == t * vs[1], vs[1] == t * vs[0]))
    solver.add(z3.Or([cell[r][c] != solution[r][c] for r in range(n) for c in range(n)]))
    return solver.check()


@register
class KenKen(Environment):
    name = "kenken"
    version = 1
    description = "Fill a KenKen grid: a Latin square whose cages meet arithmetic targets (z3-checked uniqueness)."
    Config = KenKenConfig
    easiest = {"size": 3, "max_cage": 2, "unique": False}
    hardest = {"size": 6, "max_cage": 4, "unique": True}
    max_attempts = 200
    solver_rlimit = 3_000_000

    def generate(self, gen: Generation, config: KenKenConfig) -> Problem:
        import z3

        rng, n = gen.rng, config.size
        for _ in gen.tries():
            solution = latin_square(rng, n)
            cages = []
            for cells in random_cages(rng, n, config.max_cage):
                op, target = cage_rule(rng, [solution[r][c] for r, c in cells])
                cages.append({"cells": cells, "op": op, "target": target})
            if config.unique and unique_solution(gen, n, cages, solution) != z3.unsat:
                continue
            lines = [f"{chr(65 + i)}: {cage['target']}{SYMBOL[cage['op']]} in "
                     + ", ".join(f"({r + 1},{c + 1})" for r, c in cage["cells"]) for i, cage in enumerate(cages)]
            prompt = (
                f"Fill a {n}x{n} grid with digits 1 to {n} so that every row and every column contains each digit "
                f"exactly once, and every cage meets its target. Cells are (row, column), from (1,1) at the top "
                f"left. A cage `T+` adds up to T, `Tx` multiplies to T, `T-` is the difference of its two cells, "
                f"`T/` is the quotient of its two cells (larger over smaller), and a bare `T` is the cell's "
                f"value.\n\n" + "\n".join(lines)
                + answer_format(f"the grid: {n} lines, each with {n} digits separated by spaces.",
                                "\n" + "\n".join(" ".join(["d"] * n) for _ in range(2)) + "\n..."))
            return Problem(prompt=prompt, data={"size": n, "cages": cages}, solution=solution,
                           metadata={"cages": len(cages)})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return "\n".join(" ".join(map(str, row)) for row in solution)

    def parse_answer(self, answer: str, instance: Instance) -> list[list[int]]:
        return parse_grid(answer, instance.data["size"], "kenken grid")

    def check(self, instance: Instance, grid: list[list[int]]) -> Verdict:
        n = instance.data["size"]
        for r in range(n):
            for c in range(n):
                if not 1 <= grid[r][c] <= n:
                    return reject("digit_range", f"({r + 1},{c + 1}) holds {grid[r][c]}, not 1..{n}")
        for i in range(n):
            if len(set(grid[i])) != n:
                return reject("row", f"row {i + 1} repeats a digit")
            if len({grid[r][i] for r in range(n)}) != n:
                return reject("column", f"column {i + 1} repeats a digit")
        for i, cage in enumerate(instance.data["cages"]):
            values = [grid[r][c] for r, c in cage["cells"]]
            if not cage_holds(cage["op"], cage["target"], values):
                return reject("cage", f"cage {chr(65 + i)} ({cage['target']}{SYMBOL[cage['op']]}) gets {values}")
        return accept()
