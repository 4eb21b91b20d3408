"""A GRPO-shaped math workload: P prompts x K samples, each sample labelled correct or not.

Every prompt has one reference; its samples are correct answers in varied surface forms, wrong
answers, missing answers (no final answer, or an unclosed reasoning block), hedges, and about 1%
pathological answers (power towers, huge factorials, deep nesting). Seeded: same seed, same items.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Sample:
    prompt: int
    reference: str
    completion: str
    label: int  # 1 when the completion's final answer is right
    kind: str  # correct, wrong, missing, hedge, pathological


@dataclass(frozen=True)
class Problem:
    reference: str
    correct: tuple[str, ...]  # equivalent answers in different notations
    wrong: tuple[str, ...]


def _integer(rng: random.Random) -> Problem:
    n = rng.choice([rng.randint(2, 99), rng.randint(100, 99_999), rng.randint(10**6, 10**9)])
    forms = [str(n), f"{n:,}", f"{n}.0", f"{n} \\text{{ units}}", f"x = {n}"]
    wrong = [str(n + 1), str(n - 1), str(n * 2), str(-n), f"{n}.5"]
    return Problem(str(n), tuple(forms), tuple(wrong))


def _fraction(rng: random.Random) -> Problem:
    q = rng.choice([3, 4, 5, 6, 7, 8, 9, 11, 12])
    p = rng.choice([k for k in range(1, 3 * q) if Fraction(k, q).denominator == q])
    value = Fraction(p, q)
    forms = [f"\\frac{{{p}}}{{{q}}}", f"\\dfrac{{{p}}}{{{q}}}", f"{p}/{q}", f"{float(value):.8f}",
             f"\\frac{{{2 * p}}}{{{2 * q}}}"]
    wrong = [f"\\frac{{{q}}}{{{p}}}" if p != q else "0", f"\\frac{{{p + 1}}}{{{q}}}", f"\\frac{{{p}}}{{{q + 1}}}"]
    if Fraction(f"{float(value):.2f}") != value:
        wrong.append(f"{float(value):.2f}")
    return Problem(f"\\frac{{{p}}}{{{q}}}", tuple(forms), tuple(wrong))


def _radical(rng: random.Random) -> Problem:
    a, b = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7, 10, 11])
    forms = [f"{a}\\sqrt{{{b}}}", f"\\sqrt{{{a * a * b}}}", f"{a}*sqrt({b})", f"{a} \\sqrt {b}"]
    wrong = [f"{a + 1}\\sqrt{{{b}}}", f"{a}\\sqrt{{{b + 1}}}", f"\\sqrt{{{a * b}}}", f"{a * b}"]
    return Problem(f"{a}\\sqrt{{{b}}}", tuple(forms), tuple(wrong))


def _pi(rng: random.Random) -> Problem:
    p, q = rng.choice([(1, 2), (1, 3), (2, 3), (3, 4), (5, 6), (1, 6), (7, 4)])
    forms = [f"\\frac{{{p}\\pi}}{{{q}}}", f"\\frac{{{p}}}{{{q}}}\\pi", f"{p}pi/{q}" if p > 1 else f"pi/{q}",
             f"\\dfrac{{{p} \\pi}}{{{q}}}"]
    wrong = [f"\\frac{{{q}\\pi}}{{{p}}}", f"\\frac{{{p}\\pi}}{{{q + 1}}}", f"{p}\\pi", f"\\frac{{{p}}}{{{q}}}"]
    return Problem(f"\\frac{{{p}\\pi}}{{{q}}}", tuple(forms), tuple(wrong))


def _interval(rng: random.Random) -> Problem:
    a, b = sorted(rng.sample(range(-9, 10), 2))
    forms = [f"[{a}, {b})", f"\\left[{a},{b}\\right)", f"[{a},{b})"]
    wrong = [f"[{a}, {b}]", f"({a}, {b})", f"[{a}, {b + 1})", f"[{b}, {a})"]
    return Problem(f"[{a}, {b})", tuple(forms), tuple(wrong))


def _tuple(rng: random.Random) -> Problem:
    a, b = rng.sample(range(-9, 10), 2)
    forms = [f"({a}, {b})", f"\\left({a},{b}\\right)", f"(x, y) = ({a}, {b})"]
    wrong = [f"({b}, {a})", f"({a}, {b + 1})", f"({a + 1}, {b})"]
    return Problem(f"({a}, {b})", tuple(forms), tuple(wrong))


def _set(rng: random.Random) -> Problem:
    values = rng.sample(range(-20, 21), 3)
    shuffled = values[:]
    rng.shuffle(shuffled)
    forms = [", ".join(map(str, values)), ", ".join(map(str, shuffled)),
             "\\{" + ", ".join(map(str, shuffled)) + "\\}"]
    extra = next(v for v in range(21, 40) if v not in values)
    wrong = [", ".join(map(str, values[:2])), ", ".join(map(str, values + [extra])),
             ", ".join(map(str, [values[0] + 1] + values[1:]))]
    return Problem(", ".join(map(str, values)), tuple(forms), tuple(wrong))


def _polynomial(rng: random.Random) -> Problem:
    r, s = rng.sample([-6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6], 2)
    b, c = -(r + s), r * s
    expanded = f"x^2 {'+' if b >= 0 else '-'} {abs(b)}x {'+' if c >= 0 else '-'} {abs(c)}"
    forms = [expanded, f"(x {'-' if r >= 0 else '+'} {abs(r)})(x {'-' if s >= 0 else '+'} {abs(s)})",
             expanded.replace(" ", "")]
    wrong = [f"(x {'+' if r >= 0 else '-'} {abs(r)})(x {'-' if s >= 0 else '+'} {abs(s)})", f"x^2 + {abs(b) + 1}x",
             expanded.replace("x^2", "2x^2")]
    return Problem(expanded, tuple(forms), tuple(wrong))


def _line(rng: random.Random) -> Problem:
    m, c = rng.choice([1, 2, 3, -1, -2]), rng.randint(-5, 5)
    ref = f"y = {m}x {'+' if c >= 0 else '-'} {abs(c)}"
    forms = [ref, f"{m}x - y {'+' if c >= 0 else '-'} {abs(c)} = 0", f"{2 * m}x - 2y {'+' if c >= 0 else '-'} {abs(2 * c)} = 0"]
    wrong = [f"y = {m}x {'+' if c < 0 else '-'} {abs(c) + 1}", f"y = {m + 1}x + {c}", f"{m}x + y + {c} = 0"]
    return Problem(ref, tuple(forms), tuple(wrong))


def _percent(rng: random.Random) -> Problem:
    p = rng.randint(1, 99)
    forms = [f"{p}\\%", f"{p}%", f"{p} percent", f"{p}"]
    wrong = [f"{p + 1}\\%", f"{100 - p if p != 50 else 25}\\%", f"{p / 1000}"]
    return Problem(f"{p}\\%", tuple(forms), tuple(wrong))


def _degrees(rng: random.Random) -> Problem:
    d = rng.choice([30, 45, 60, 90, 120, 135, 150])
    forms = [f"{d}^\\circ", f"{d}^{{\\circ}}", f"{d}", f"{d} degrees"]
    wrong = [f"{180 - d}^\\circ" if d != 90 else "45^\\circ", f"{d + 10}^\\circ"]
    return Problem(f"{d}^\\circ", tuple(forms), tuple(wrong))


def _complex(rng: random.Random) -> Problem:
    a, b = rng.sample(range(1, 10), 2)
    forms = [f"{a} + {b}i", f"{b}i + {a}", f"{a}.0 + {b}.0i", f"{a}+{b}i"]
    wrong = [f"{a} - {b}i", f"{b} + {a}i", f"{a} + {b + 1}i"]
    return Problem(f"{a} + {b}i", tuple(forms), tuple(wrong))


def _matrix(rng: random.Random) -> Problem:
    m = [[rng.randint(-5, 5) for _ in range(2)] for _ in range(2)]
    body = " \\\\ ".join(" & ".join(map(str, row)) for row in m)
    forms = [f"\\begin{{pmatrix}} {body} \\end{{pmatrix}}", f"\\begin{{bmatrix}}{body}\\end{{bmatrix}}"]
    t = " \\\\ ".join(" & ".join(str(m[j][i]) for j in range(2)) for i in range(2))
    w = " \\\\ ".join(" & ".join(str(v + (1 if (i, j) == (0, 0) else 0)) for j, v in enumerate(row))
                      for i, row in enumerate(m))
    wrong = [f"\\begin{{pmatrix}} {w} \\end{{pmatrix}}"] + ([f"\\begin{{pmatrix}} {t} \\end{{pmatrix}}"] if t != body else [])
    return Problem(f"\\begin{{pmatrix}} {body} \\end{{pmatrix}}", tuple(forms), tuple(wrong))


def _choice(rng: random.Random) -> Problem:
    letter = rng.choice("ABCDE")
    others = [c for c in "ABCDE" if c != letter]
    forms = [f"\\text{{({letter})}}", f"({letter})", letter]
    return Problem(f"({letter})", tuple(forms), tuple(f"({c})" for c in others))


KINDS = [_integer, _integer, _integer, _fraction, _fraction, _radical, _pi, _interval, _tuple, _set, _polynomial,
         _line, _percent, _degrees, _complex, _matrix, _choice]

PATHOLOGICAL = ["9^{9^{9^{9}}}", "10^{10^{10}}", "2^{2^{2^{2^{2^{2}}}}}", "1000000000!/999999999!",
                "\\sum_{k=1}^{10^{9}} \\frac{1}{k}"]

_FILLER = ["Let me work through this carefully.", "First we simplify the expression.",
           "Substituting back, the equation becomes $x + 1 = 5$.", "We check the boundary cases.",
           "Multiplying out gives $3 \\cdot 4 = 12$.", "Hence the value follows."]


def _wrap(rng: random.Random, answer: str) -> str:
    reasoning = " ".join(rng.choice(_FILLER) for _ in range(rng.randint(2, 6)))
    style = rng.randrange(4)
    if style == 0:
        return f"<think>{reasoning}</think>\nThe final answer is $\\boxed{{{answer}}}$."
    if style == 1:
        return f"{reasoning}\n\nTherefore, the answer is $\\boxed{{{answer}}}$."
    if style == 2:
        return f"{reasoning}\n\nFinal Answer: The final answer is ${answer}$. I hope it is correct."
    return f"<think>{reasoning} Maybe it is $\\boxed{{0}}$?</think>\n**Final Answer**\n\\[\n\\boxed{{{answer}}}\n\\]"


def _missing(rng: random.Random) -> str:
    reasoning = " ".join(rng.choice(_FILLER[:2] + _FILLER[3:4]) for _ in range(3))
    if rng.random() < 0.5:
        return f"<think>{reasoning} Then the answer should be $\\boxed{{7}}$ but I keep"  # cut off mid-thought
    return f"{reasoning} I am not able to finish this problem."


def generate(prompts: int, samples: int, seed: int = 0) -> list[Sample]:
    rng = random.Random(seed)
    out: list[Sample] = []
    for prompt in range(prompts):
        problem = rng.choice(KINDS)(random.Random(seed * 1_000_003 + prompt))
        for _ in range(samples):
            roll = rng.random()
            if roll < 0.01:
                answer = rng.choice(PATHOLOGICAL)
                out.append(Sample(prompt, problem.reference, _wrap(rng, answer), 0, "pathological"))
            elif roll < 0.51:
                out.append(Sample(prompt, problem.reference, _wrap(rng, rng.choice(problem.correct)), 1, "correct"))
            elif roll < 0.86:
                out.append(Sample(prompt, problem.reference, _wrap(rng, rng.choice(problem.wrong)), 0, "wrong"))
            elif roll < 0.94:
                out.append(Sample(prompt, problem.reference, _missing(rng), 0, "missing"))
            elif "," in problem.reference:  # several-valued answers: a hedge would be a list; give a wrong one
                out.append(Sample(prompt, problem.reference, _wrap(rng, rng.choice(problem.wrong)), 0, "wrong"))
            else:
                hedge = f"{rng.choice(problem.wrong)} \\text{{ or }} {problem.correct[0]}"
                out.append(Sample(prompt, problem.reference, _wrap(rng, hedge), 0, "hedge"))
    return out
