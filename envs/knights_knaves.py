"""knights_knaves: knights always tell the truth, knaves always lie; who is who? (z3-unique).

Types are planted; each islander makes a random statement (a formula over who is a knight)
whose truth value matches the speaker's type. z3 must prove that no other assignment makes
every statement consistent, so the answer is unique; scoring still checks consistency.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from envs.base import (AnswerFormatError, EnvConfig, Environment, Generation, Instance, Problem, accept,
                       answer_format, register, reject)
from verifiers.contract import Verdict

NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy"]
CONNECTIVES = ("and", "or", "iff", "implies")
Statement = list[Any]  # ["is", person, knight?] | ["not", s] | [connective, s, s]


class KnightsKnavesConfig(EnvConfig):
    n_people: int = Field(4, ge=2, le=10, description="number of islanders")
    depth: int = Field(2, ge=2, le=3, description="nesting depth of each statement (2: a claim joining two simple claims)")


def random_statement(rng, n: int, depth: int) -> Statement:
    if depth <= 1 or rng.random() < 0.2:
        return ["is", rng.randrange(n), rng.random() < 0.5]
    if rng.random() < 0.15:
        return ["not", random_statement(rng, n, depth - 1)]
    return [rng.choice(CONNECTIVES), random_statement(rng, n, depth - 1), random_statement(rng, n, depth - 1)]


def evaluate(s: Statement, knights: list[bool]) -> bool:
    op = s[0]
    if op == "is":
        return knights[s[1]] == s[2]
    if op == "not":
        return not evaluate(s[1], knights)
    a, b = evaluate(s[1], knights), evaluate(s[2], knights)
    return {"and": a and b, "or": a or b, "iff": a == b, "implies": (not a) or b}[op]


def to_z3(s: Statement, knight: list[Any]) -> Any:
    import z3

    op = s[0]
    if op == "is":
        return knight[s[1]] if s[2] else z3.Not(knight[s[1]])
    if op == "not":
        return z3.Not(to_z3(s[1], knight))
    a, b = to_z3(s[1], knight), to_z3(s[2], knight)
    return {"and": z3.And, "or": z3.Or, "iff": lambda x, y: x == y, "implies": z3.Implies}[op](a, b)


def render(s: Statement, speaker: int, top: bool = True) -> str:
    op = s[0]
    if op == "is":
        kind = "knight" if s[2] else "knave"
        return f"I am a {kind}" if s[1] == speaker else f"{NAMES[s[1]]} is a {kind}"
    if op == "not":
        text = f"it is not true that {render(s[1], speaker, False)}"
    else:
        a, b = render(s[1], speaker, False), render(s[2], speaker, False)
        text = {"and": f"{a} and {b}", "or": f"{a} or {b}", "iff": f"{a} if and only if {b}",
                "implies": f"if {a} then {b}"}[op]
    return text if top else f"({text})"


@register
class KnightsKnaves(Environment):
    name = "knights_knaves"
    version = 1
    description = "Knights always tell the truth, knaves always lie: decide each islander's type (unique, z3-checked)."
    Config = KnightsKnavesConfig
    easiest = {"n_people": 2, "depth": 2}
    hardest = {"n_people": 10, "depth": 3}
    max_attempts = 300
    solver_rlimit = 1_000_000

    def generate(self, gen: Generation, config: KnightsKnavesConfig) -> Problem:
        import z3

        rng, n = gen.rng, config.n_people
        for _ in gen.tries():
            knights = [rng.random() < 0.5 for _ in range(n)]
            statements = []
            for speaker in range(n):
                s = random_statement(rng, n, config.depth)
                if evaluate(s, knights) != knights[speaker]:
                    s = s[1] if s[0] == "not" else ["not", s]
                statements.append(s)
            knight = [z3.Bool(f"k{i}") for i in range(n)]
            solver = gen.solver()
            solver.add([knight[i] == to_z3(s, knight) for i, s in enumerate(statements)])
            solver.add(z3.Or([knight[i] != z3.BoolVal(knights[i]) for i in range(n)]))
            if solver.check() != z3.unsat:
                continue
            said = "\n".join(f'{NAMES[i]} says: "{render(s, i)[0].upper() + render(s, i)[1:]}."'
                             for i, s in enumerate(statements))
            prompt = (
                f"On an island, every inhabitant is either a knight, who always tells the truth, or a knave, "
                f"who always lies. You meet {n} inhabitants: {', '.join(NAMES[:n])}.\n\n{said}\n\n"
                f"Who is a knight and who is a knave?"
                + answer_format("one `Name: knight` or `Name: knave` per inhabitant, separated by commas.",
                                f"{NAMES[0]}: knave, {NAMES[1]}: knight, ..."))
            return Problem(prompt=prompt, data={"n": n, "statements": statements},
                           solution={NAMES[i]: "knight" if k else "knave" for i, k in enumerate(knights)})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return ", ".join(f"{name}: {kind}" for name, kind in solution.items())

    def parse_answer(self, answer: str, instance: Instance) -> dict[str, bool]:
        pairs = re.findall(r"\b([A-Za-z]+)\s*(?::|=|-|is an?|is)\s*(knights?|knaves?)\b", answer, re.IGNORECASE)
        if not pairs:
            raise AnswerFormatError("no `Name: knight|knave` pairs found")
        types: dict[str, bool] = {}
        for name, kind in pairs:
            name = name.capitalize()
            is_knight = kind.lower().startswith("knight")
            if types.get(name, is_knight) != is_knight:
                raise AnswerFormatError(f"{name} is given both types")
            types[name] = is_knight
        return types

    def check(self, instance: Instance, types: dict[str, bool]) -> Verdict:
        people = NAMES[: instance.data["n"]]
        for name in types:
            if name not in people:
                return reject("unknown_person", f"{name} is not one of the inhabitants")
        missing = [p for p in people if p not in types]
        if missing:
            return reject("complete", f"no type given for {', '.join(missing)}")
        knights = [types[p] for p in people]
        for i, s in enumerate(instance.data["statements"]):
            if evaluate(s, knights) != knights[i]:
                kind = "knight" if knights[i] else "knave"
                truth = "false" if knights[i] else "true"
                return reject("statement", f"{people[i]} would be a {kind} making a {truth} statement")
        return accept()
