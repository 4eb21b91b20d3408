"""n_queens: place n non-attacking queens on an n x n board with blocked cells (planted, z3-checked).

A random placement is planted (randomised backtracking), then cells off the planted placement
are blocked. With `max_solutions`, z3 must show the board has at most that many placements
(the bound makes the puzzle harder when low); any valid placement is accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from envs.base import (AnswerFormatError, EnvConfig, Environment, Generation, Instance, Problem, accept,
                       answer_format, parse_int_list, register, reject)
from verifiers.contract import Verdict


class NQueensConfig(EnvConfig):
    n: int = Field(8, ge=4, le=14, description="board side and number of queens")
    blocked_fraction: float = Field(0.2, ge=0.0, le=0.6, description="share of the cells off the planted placement that are blocked")
    max_solutions: int = Field(0, ge=0, le=10, description="if > 0, z3 must prove at most this many placements exist (needs blocked_fraction >= 0.4 or the budget runs out)")


def random_placement(rng, n: int) -> list[int]:
    """Columns of the queens row by row, by randomised backtracking (always succeeds for n >= 4)."""
    cols: list[int] = []

    def place(row: int) -> bool:
        if row == n:
            return True
        for c in rng.sample(range(n), n):
            if all(c != pc and abs(c - pc) != row - pr for pr, pc in enumerate(cols)):
                cols.append(c)
                if place(row + 1):
                    return True
                cols.pop()
        return False

    place(0)
    return cols


def render_board(n: int, blocked: set[tuple[int, int]]) -> str:
    return "\n".join("".join("#" if (r, c) in blocked else "." for c in range(n)) for r in range(n))


def at_most_solutions(gen: Generation, n: int, blocked: set[tuple[int, int]], limit: int) -> bool:
    """z3: are there at most `limit` placements? Each found one is excluded, then asked again."""
    import z3

    col = [z3.Int(f"q{r}") for r in range(n)]
    solver = gen.solver()
    solver.add([z3.And(c >= 0, c < n) for c in col])
    solver.add(z3.Distinct(col))
    solver.add(z3.Distinct([col[r] + r for r in range(n)]))
    solver.add(z3.Distinct([col[r] - r for r in range(n)]))
    solver.add([col[r] != c for r, c in blocked])
    for _ in range(limit + 1):
        result = solver.check()
        if result == z3.unsat:
            return True
        if result != z3.sat:
            return False
        model = solver.model()
        solver.add(z3.Or([col[r] != model.eval(col[r]) for r in range(n)]))
    return False


@register
class NQueens(Environment):
    name = "n_queens"
    version = 1
    description = "Place n non-attacking queens on an n x n board avoiding blocked cells (planted, z3 counts solutions)."
    Config = NQueensConfig
    easiest = {"n": 4, "blocked_fraction": 0.0, "max_solutions": 0}
    hardest = {"n": 12, "blocked_fraction": 0.6, "max_solutions": 1}
    max_attempts = 60
    solver_rlimit = 10_000_000

    def generate(self, gen: Generation, config: NQueensConfig) -> Problem:
        rng, n = gen.rng, config.n
        for _ in gen.tries():
            cols = random_placement(rng, n)
            free = [(r, c) for r in range(n) for c in range(n) if cols[r] != c]
            blocked = set(rng.sample(free, round(config.blocked_fraction * len(free))))
            if config.max_solutions and not at_most_solutions(gen, n, blocked, config.max_solutions):
                continue
            prompt = (
                f"Place {n} queens on this {n}x{n} board so that no two queens attack each other (no two share "
                f"a row, a column or a diagonal) and no queen stands on a blocked cell. '#' is blocked, "
                f"'.' is free; rows are numbered 1 to {n} from the top, columns 1 to {n} from the left.\n\n"
                f"{render_board(n, blocked)}"
                + answer_format(f"the column of the queen in row 1, row 2, ..., row {n}: {n} integers "
                                f"separated by commas.", "2, 4, 1, 3"))
            return Problem(prompt=prompt, data={"n": n, "blocked": sorted(blocked)},
                           solution=[c + 1 for c in cols], metadata={"blocked": len(blocked)})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return ", ".join(map(str, solution))

    def parse_answer(self, answer: str, instance: Instance) -> list[int]:
        cols = parse_int_list(answer, "queen columns")
        if len(cols) != instance.data["n"]:
            raise AnswerFormatError(f"expected {instance.data['n']} columns, one per row, got {len(cols)}")
        return cols

    def check(self, instance: Instance, cols: list[int]) -> Verdict:
        n = instance.data["n"]
        blocked = {tuple(cell) for cell in instance.data["blocked"]}
        for r, c in enumerate(cols):
            if not 1 <= c <= n:
                return reject("board", f"row {r + 1}: column {c} is off the board")
            if (r, c - 1) in blocked:
                return reject("blocked", f"row {r + 1}, column {c} is blocked")
        for r1 in range(n):
            for r2 in range(r1 + 1, n):
                if cols[r1] == cols[r2]:
                    return reject("column", f"rows {r1 + 1} and {r2 + 1} both use column {cols[r1]}")
                if abs(cols[r1] - cols[r2]) == r2 - r1:
                    return reject("diagonal", f"queens in rows {r1 + 1} and {r2 + 1} share a diagonal")
        return accept()
