"""sudoku: fill an n x n grid (n = 4, 6 or 9) with a unique solution, checked by z3.

A full grid is made by shuffling a pattern (digits, rows within bands, bands, columns within
stacks, stacks), then clues are removed in random order while z3 proves that the remaining
clues still admit only the planted grid. Scoring checks the rules and the clues, so any
valid grid is accepted (there is exactly one).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field

from envs.base import (EnvConfig, Environment, Generation, Instance, Problem, accept, answer_format, format_grid,
                       parse_grid, register, reject)
from verifiers.contract import Verdict

BOXES = {4: (2, 2), 6: (2, 3), 9: (3, 3)}  # size -> (box rows, box columns)


class SudokuConfig(EnvConfig):
    size: Literal[4, 6, 9] = Field(9, description="grid side; boxes are 2x2, 2x3 or 3x3")
    empty_fraction: float = Field(0.5, ge=0.1, le=0.7,
                                  description="share of cells to blank; removal stops early when no "
                                              "further clue can go without losing uniqueness")


def planted_grid(rng, size: int) -> list[list[int]]:
    br, bc = BOXES[size]
    pattern = [[(bc * (r % br) + r // br + c) % size for c in range(size)] for r in range(size)]
    digits = list(range(1, size + 1))
    rng.shuffle(digits)
    bands = list(range(size // br))  # horizontal bands of `br` rows
    rng.shuffle(bands)
    rows = [b * br + r for b in bands for r in rng.sample(range(br), br)]
    stacks = list(range(size // bc))
    rng.shuffle(stacks)
    cols = [s * bc + c for s in stacks for c in rng.sample(range(bc), bc)]
    return [[digits[pattern[r][c]] for c in cols] for r in rows]


@lru_cache(maxsize=None)
def units(size: int) -> list[tuple[str, list[tuple[int, int]]]]:
    br, bc = BOXES[size]
    out = [(f"row {r + 1}", [(r, c) for c in range(size)]) for r in range(size)]
    out += [(f"column {c + 1}", [(r, c) for r in range(size)]) for c in range(size)]
    for r0 in range(0, size, br):
        for c0 in range(0, size, bc):
            out.append((f"box at row {r0 + 1}, column {c0 + 1}",
                        [(r0 + r, c0 + c) for r in range(br) for c in range(bc)]))
    return out


@register
class Sudoku(Environment):
    name = "sudoku"
    version = 1
    description = "Complete an n x n sudoku (n = 4, 6, 9) that has exactly one solution (z3-checked)."
    Config = SudokuConfig
    easiest = {"size": 4, "empty_fraction": 0.1}
    hardest = {"size": 9, "empty_fraction": 0.7}
    max_attempts = 1  # one planted grid; the clue removal is bounded by the number of cells
    solver_rlimit = 5_000_000

    def generate(self, gen: Generation, config: SudokuConfig) -> Problem:
        import z3

        rng, n = gen.rng, config.size
        for _ in gen.tries():
            solution = planted_grid(rng, n)
            # Pseudo-boolean encoding (one literal per cell and digit): z3's SAT core proves
            # uniqueness several times faster than integer variables with Distinct.
            x = [[[z3.Bool(f"x{r}_{c}_{v}") for v in range(n)] for c in range(n)] for r in range(n)]
            solver = gen.solver("QF_FD")
            solver.add([z3.PbEq([(x[r][c][v], 1) for v in range(n)], 1) for r in range(n) for c in range(n)])
            solver.add([z3.PbEq([(x[r][c][v], 1) for r, c in members], 1) for _, members in units(n) for v in range(n)])
            solver.add(z3.Or([z3.Not(x[r][c][solution[r][c] - 1]) for r in range(n) for c in range(n)]))
            keep = {(r, c): z3.Bool(f"k{r}_{c}") for r in range(n) for c in range(n)}
            solver.add([z3.Implies(lit, x[r][c][solution[r][c] - 1]) for (r, c), lit in keep.items()])
            clues = set(keep)
            order = list(keep)
            rng.shuffle(order)
            target_blanks = round(config.empty_fraction * n * n)
            for pos in order:
                if n * n - len(clues) >= target_blanks:
                    break
                trial = clues - {pos}
                result = solver.check([keep[p] for p in trial])
                if result == z3.unsat:  # still only the planted grid
                    clues = trial
            puzzle = [[solution[r][c] if (r, c) in clues else 0 for c in range(n)] for r in range(n)]
            br, bc = BOXES[n]
            prompt = (
                f"Solve this {n}x{n} sudoku. Fill every '.' with a digit from 1 to {n} so that each row, each "
                f"column and each {br}x{bc} box (the grid is split into boxes of {br} rows and {bc} columns, "
                f"starting at the top-left) contains every digit from 1 to {n} exactly once. Given digits stay.\n\n"
                f"{format_grid(puzzle)}"
                + answer_format(f"the completed grid: {n} lines, each with {n} digits separated by spaces.",
                                "\n" + "\n".join(" ".join(["d"] * n) for _ in range(2)) + "\n..."))
            return Problem(prompt=prompt, data={"size": n, "puzzle": puzzle}, solution=solution,
                           metadata={"blanks": n * n - len(clues)})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return "\n".join(" ".join(map(str, row)) for row in solution)

    def parse_answer(self, answer: str, instance: Instance) -> list[list[int]]:
        return parse_grid(answer, instance.data["size"], "sudoku grid")

    def check(self, instance: Instance, grid: list[list[int]]) -> Verdict:
        n, puzzle = instance.data["size"], instance.data["puzzle"]
        for r in range(n):
            for c in range(n):
                if not 1 <= grid[r][c] <= n:
                    return reject("digit_range", f"row {r + 1}, column {c + 1} holds {grid[r][c]}, not 1..{n}")
                if puzzle[r][c] and grid[r][c] != puzzle[r][c]:
                    return reject("clue", f"row {r + 1}, column {c + 1} must stay {puzzle[r][c]}, got {grid[r][c]}")
        for label, members in units(n):
            values = [grid[r][c] for r, c in members]
            if len(set(values)) != n:
                dup = next(v for v in values if values.count(v) > 1)
                return reject("unit", f"{label} contains {dup} more than once")
        return accept()
