"""Scoring: the reference scores 1, other valid answers score 1, broken answers score 0 with the
constraint that failed, unparseable answers are `wrong_format`, and answers may not use things
that are not in the question."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

import verifiers
from envs import Instance, all_environments, get_environment

ALL = [env.name for env in all_environments()]


def answer(env_name: str, solution: Any) -> str:
    return f"<think>working…</think>\n<answer>{get_environment(env_name).format_answer(solution)}</answer>"


def score(env_name: str, inst: Instance, text: str):
    return get_environment(env_name).score(inst, text)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("level", ["easiest", "default"])
def test_reference_scores_one(name, level):
    env = get_environment(name)
    for seed in range(4):
        inst = env.sample(seed, env.levels()[level])
        verdict = env.score(inst, inst.answer_text())
        assert (verdict.status, verdict.reward) == ("ok", 1.0), (seed, verdict.message)
        assert verdict.details["failed"] is None


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("completion", [
    "no answer block at all",
    "<answer>1 2 ?? </answer>",
    "<answer></answer>",
    "<answer>the answer</answer> trailing <answer>!!</answer>",
    "<answer>" + "9" * 50 + "</answer>",
    "<answer>" + "x" * 30_000 + "</answer>",
    "<answer>\u0661\u0662 ;; ##</answer>",
])
def test_malformed_answers_are_wrong_format(name, completion):
    env = get_environment(name)
    verdict = env.score(env.sample(0), completion)
    assert verdict.status == "wrong_format" and verdict.reward == 0.0, verdict
    assert verdict.message


@pytest.mark.parametrize("name", ALL)
def test_answer_inside_reasoning_does_not_count(name):
    inst = get_environment(name).sample(1)
    text = f"<think>{inst.answer_text()}</think> I am not sure."
    assert score(name, inst, text).status == "wrong_format"


# ---- corrupted answers: (env, config, corrupt(solution, instance) -> solution, expected failed constraints) ----

def _swap_non_clue_cells_in_a_row(sol, inst):
    puzzle = inst.data["puzzle"]
    for r, row in enumerate(puzzle):
        blanks = [c for c, v in enumerate(row) if v == 0]
        if len(blanks) >= 2:
            grid = [list(x) for x in sol]
            a, b = blanks[:2]
            grid[r][a], grid[r][b] = grid[r][b], grid[r][a]
            return grid
    raise AssertionError("no row with two blanks")


def _change_a_clue(sol, inst):
    grid = [list(x) for x in sol]
    r, c = next((r, c) for r, row in enumerate(inst.data["puzzle"]) for c, v in enumerate(row) if v)
    grid[r][c] = grid[r][c] % len(grid) + 1
    return grid


def _same_colour_on_an_edge(sol, inst):
    u, v = inst.data["edges"][0]
    out = list(sol)
    out[v] = out[u]
    return out


def _falsify_first_clause(sol, inst):
    out = list(sol)
    for lit in inst.data["clauses"][0]:
        out[abs(lit) - 1] = -lit
    return out


def _flip_person(sol, inst):
    out = dict(sol)
    first = next(iter(out))
    out[first] = "knave" if out[first] == "knight" else "knight"
    return out


def _swap_two_letters(sol, inst):
    out = dict(sol)
    a, b = [l for l in sorted(out) if l not in inst.data["hints"]][:2]
    out[a], out[b] = out[b], out[a]
    return out


def _queen_on_blocked_cell(sol, inst):
    r, c = inst.data["blocked"][0]
    out = list(sol)
    out[r] = c + 1
    return out


def _walk_back_and_forth(sol, inst):
    return [sol[0], sol[1], sol[0], *sol[1:]]


CORRUPTIONS: list[tuple[str, dict, Callable, set[str]]] = [
    ("subset_sum", {}, lambda s, i: s[:-1], {"sum"}),
    ("subset_sum", {}, lambda s, i: [*s[:-1], 1000], {"from_list"}),
    ("subset_sum", {}, lambda s, i: [*s, s[0]], {"each_once"}),
    ("sudoku", {"size": 9}, _swap_non_clue_cells_in_a_row, {"unit"}),
    ("sudoku", {"size": 6}, _change_a_clue, {"clue"}),
    ("sudoku", {"size": 4}, lambda s, i: [[0] * 4, *s[1:]], {"digit_range"}),
    ("graph_colouring", {}, _same_colour_on_an_edge, {"edge"}),
    ("graph_colouring", {}, lambda s, i: [i.data["k"] + 1, *s[1:]], {"colour_range"}),
    ("job_shop", {}, lambda s, i: [[s[0][0], s[0][0], *s[0][2:]], *s[1:]], {"job_order"}),
    ("job_shop", {}, lambda s, i: [[t + i.data["bound"] for t in row] for row in s], {"makespan"}),
    ("job_shop", {}, lambda s, i: [[-1, *s[0][1:]], *s[1:]], {"start_time"}),
    ("knights_knaves", {}, _flip_person, {"statement"}),
    ("knights_knaves", {}, lambda s, i: {**s, "Zed": "knight"}, {"unknown_person"}),
    ("knights_knaves", {}, lambda s, i: dict(list(s.items())[1:]), {"complete"}),
    ("cryptarithm", {}, _swap_two_letters, {"sum", "leading_zero"}),
    ("cryptarithm", {}, lambda s, i: {**s, next(l for l in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if l not in s): 0},
     {"unknown_letter"}),
    ("cryptarithm", {}, lambda s, i: {k: 1 for k in s}, {"distinct", "hint"}),
    ("n_queens", {"n": 8, "blocked_fraction": 0.3}, _queen_on_blocked_cell, {"blocked"}),
    ("n_queens", {}, lambda s, i: [s[0], s[0], *s[2:]], {"column", "blocked"}),
    ("n_queens", {}, lambda s, i: [*s[:-1], 99], {"board"}),
    ("kenken", {}, lambda s, i: [s[1], s[0], *s[2:]], {"cage"}),
    ("kenken", {}, lambda s, i: [[s[0][0], *s[0][:-1]], *s[1:]], {"row"}),
    ("planted_sat", {}, _falsify_first_clause, {"clause"}),
    ("planted_sat", {}, lambda s, i: [*s, len(s) + 1], {"unknown_variable"}),
    ("planted_sat", {}, lambda s, i: s[1:], {"complete"}),
    ("planted_sat", {}, lambda s, i: [*s, -s[0]], {"each_once"}),
    ("linear_system", {}, lambda s, i: {**s, "x1": s["x1"] + 1}, {"equation", "bounds"}),
    ("linear_system", {}, lambda s, i: {**s, "x99": 0}, {"unknown_variable"}),
    ("linear_system", {}, lambda s, i: {**s, "x1": -5}, {"bounds"}),
    ("shortest_path", {}, lambda s, i: s[1:], {"start"}),
    ("shortest_path", {}, lambda s, i: s[:-1], {"end"}),
    ("shortest_path", {"n_nodes": 10, "extra_edges": 0}, lambda s, i: [s[0], *[v for v in range(10) if v not in s][:1], s[-1]],
     {"edge"}),
    ("shortest_path", {}, _walk_back_and_forth, {"optimal"}),
    ("lcs", {}, lambda s, i: s[:-1], {"longest"}),
    ("lcs", {"alphabet_size": 4}, lambda s, i: s + "z", {"subsequence_of_a"}),
    ("interval_scheduling", {}, lambda s, i: s[:-1], {"maximum"}),
    ("interval_scheduling", {}, lambda s, i: [*s, 999], {"unknown_meeting"}),
    ("interval_scheduling", {}, lambda s, i: [*s, s[0]], {"each_once"}),
    ("interval_scheduling", {}, lambda s, i: [*s, next(k for k in range(1, 99) if k not in s)], {"conflict"}),
]


@pytest.mark.parametrize("name,config,corrupt,expected", CORRUPTIONS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CORRUPTIONS)])
def test_corrupted_solutions_score_zero_with_the_reason(name, config, corrupt, expected):
    env = get_environment(name)
    inst = env.sample(3, config)
    verdict = env.score(inst, answer(name, corrupt(inst.solution, inst)))
    assert verdict.status == "ok" and verdict.reward == 0.0, verdict
    assert verdict.details["failed"] in expected, verdict.details
    assert verdict.details["reason"] and verdict.message.startswith(verdict.details["failed"])


def test_every_environment_has_corruption_cases():
    assert {c[0] for c in CORRUPTIONS} == set(ALL)


# ---- several valid answers: any answer that meets the constraints scores 1 ----

def _first_seed(name: str, config: dict, find: Callable[[Instance], Any]) -> tuple[Instance, Any]:
    env = get_environment(name)
    for seed in range(60):
        inst = env.sample(seed, config)
        other = find(inst)
        if other is not None:
            assert other != inst.solution
            return inst, other
    raise AssertionError(f"no instance with a second solution found for {name}")


def _other_subset(inst):
    numbers, target = inst.data["numbers"], inst.data["target"]
    for r in range(1, len(numbers) + 1):
        for combo in itertools.combinations(numbers, r):
            if sum(combo) == target and sorted(combo) != inst.solution:
                return list(combo)
    return None


def _recoloured(inst):
    return [{1: 2, 2: 1}.get(c, c) for c in inst.solution]


def _shifted_schedule(inst):
    jobs, bound = inst.data["jobs"], inst.data["bound"]
    end = max(row[-1] + ops[-1][1] for row, ops in zip(inst.solution, jobs))
    return [[t + bound - end for t in row] for row in inst.solution] if bound > end else None


def _mirrored(inst):
    n = inst.data["n"]
    return [n + 1 - c for c in inst.solution]


def _other_assignment(inst):
    clauses = inst.data["clauses"]
    for var in range(len(inst.solution)):
        flipped = list(inst.solution)
        flipped[var] = -flipped[var]
        chosen = set(flipped)
        if all(any(l in chosen for l in c) for c in clauses):
            return flipped
    return None


def _other_shortest_path(inst):
    edges = {(u, v): w for u, v, w in inst.data["edges"]} | {(v, u): w for u, v, w in inst.data["edges"]}
    source, target, best = inst.data["source"], inst.data["target"], inst.data["optimum"]

    def walk(path, cost):
        if cost > best:
            return
        if path[-1] == target:
            if cost == best and path != inst.solution:
                yield list(path)
            return
        for (u, v), w in edges.items():
            if u == path[-1] and v not in path:
                yield from walk([*path, v], cost + w)

    return next(walk([source], 0), None)


def _other_lcs(inst):
    a, b, best = inst.data["a"], inst.data["b"], inst.data["optimum"]
    for combo in itertools.combinations(range(len(a)), best):
        candidate = "".join(a[i] for i in combo)
        it = iter(b)
        if candidate != inst.solution and all(ch in it for ch in candidate):
            return candidate
    return None


def _other_schedule(inst):
    intervals, best = inst.data["intervals"], inst.data["optimum"]
    for combo in itertools.combinations(range(1, len(intervals) + 1), best):
        spans = sorted(intervals[k - 1] for k in combo)
        if all(s2 >= e1 for (_, e1), (s2, _) in zip(spans, spans[1:])) and sorted(combo) != sorted(inst.solution):
            return list(combo)
    return None


ALTERNATIVES = [
    ("subset_sum", {"n_numbers": 10, "max_value": 20}, _other_subset),
    ("graph_colouring", {}, _recoloured),
    ("job_shop", {"slack": 0.5}, _shifted_schedule),
    ("n_queens", {"n": 8, "blocked_fraction": 0.0}, _mirrored),
    ("planted_sat", {"n_vars": 10, "clause_ratio": 1.0}, _other_assignment),
    ("shortest_path", {"n_nodes": 8, "extra_edges": 10, "max_weight": 2}, _other_shortest_path),
    ("lcs", {"length": 8, "alphabet_size": 3}, _other_lcs),
    ("interval_scheduling", {"n_intervals": 8, "horizon": 20, "max_length": 6}, _other_schedule),
]


@pytest.mark.parametrize("name,config,find", ALTERNATIVES, ids=[a[0] for a in ALTERNATIVES])
def test_a_different_valid_solution_scores_one(name, config, find):
    inst, other = _first_seed(name, config, find)
    verdict = score(name, inst, answer(name, other))
    assert (verdict.status, verdict.reward) == ("ok", 1.0), verdict.message


# ---- partial credit, only where documented ----

def test_partial_credit_only_when_the_config_asks_for_it():
    for name, corrupt, expected_failed in [("shortest_path", _walk_back_and_forth, "optimal"),
                                           ("interval_scheduling", lambda s, i: s[:-1], "maximum")]:
        env = get_environment(name)
        strict = env.sample(5)
        lenient = env.sample(5, {"partial_credit": True})
        assert score(name, strict, answer(name, corrupt(strict.solution, strict))).reward == 0.0
        verdict = score(name, lenient, answer(name, corrupt(lenient.solution, lenient)))
        assert 0.0 < verdict.reward < 1.0 and verdict.details["failed"] == expected_failed
        assert "partial_credit=true" in env.partial_credit
        # invalid answers stay at 0 even with partial credit
        assert score(name, lenient, "<answer>999999</answer>").reward == 0.0
    assert all(env.partial_credit.startswith("none") for env in all_environments()
               if env.name not in ("shortest_path", "interval_scheduling"))


# ---- answers that use things that are not in the question ----

def test_subset_sum_rejects_numbers_not_in_the_list_even_when_the_sum_is_right():
    inst = get_environment("subset_sum").sample(0)
    target = inst.data["target"]
    absent = next(x for x in range(1, 10**6) if x not in inst.data["numbers"] and x < target)
    verdict = score("subset_sum", inst, f"<answer>{absent}, {target - absent}</answer>")
    assert verdict.reward == 0.0 and verdict.details["failed"] in {"from_list"}
    verdict = score("subset_sum", inst, f"<answer>{target}</answer>")
    assert verdict.reward == 0.0 or target in inst.data["numbers"]


def test_shortest_path_rejects_invented_edges_and_vertices():
    inst = get_environment("shortest_path").sample(2)
    s, t = inst.data["source"], inst.data["target"]
    direct = score("shortest_path", inst, f"<answer>{s} -> {t}</answer>")
    assert direct.reward == 0.0 or any({u, v} == {s, t} for u, v, _ in inst.data["edges"])
    assert score("shortest_path", inst, f"<answer>{s} -> 999 -> {t}</answer>").details["failed"] == "edge"


def test_lcs_rejects_letters_outside_the_strings():
    inst = get_environment("lcs").sample(0, {"alphabet_size": 3})
    verdict = score("lcs", inst, "<answer>" + "z" * inst.data["optimum"] + "</answer>")
    assert verdict.reward == 0.0 and verdict.details["failed"] == "subsequence_of_a"


def test_scoring_through_the_python_api_uses_the_id_only():
    inst = get_environment("knights_knaves").sample(11)
    verdict = verifiers.verify("env:knights_knaves", completion=inst.answer_text(), reference=inst.id)
    assert verdict.reward == 1.0 and verdict.verifier == "env:knights_knaves@1"
    chat = [{"role": "user", "content": inst.prompt}, {"role": "assistant", "content": inst.answer_text()}]
    assert verifiers.verify("env:knights_knaves@1", completion=chat, reference=inst.id).reward == 1.0


HOSTILE = {
    "many opening tags": "<answer>" * 50_000,
    "many closing tags": "</answer>" * 50_000,
    "many reasoning blocks": "</think>" * 50_000 + "<answer>1</answer>",
    "one long word": "<answer>" + "a" * 9_000 + "</answer>",
    "word colon word": "<answer>" + "a:" * 4_900 + "</answer>",
    "repeated job headers": "<answer>" + "Job 1: " * 1_000 + "</answer>",
    "repeated names": "<answer>" + "Alice: knight, " * 600 + "</answer>",
    "a megabyte of text": "x" * 1_000_000,
    "over the answer cap": "<answer>" + "1 " * 6_000 + "</answer>",
    "a 5000-digit letter": "<answer>A=" + "9" * 5_000 + "</answer>",
    "a 5000-digit unknown": "<answer>x1 = " + "9" * 5_000 + ", x" + "9" * 5_000 + " = 1</answer>",
    "a 5000-digit job": "<answer>Job " + "9" * 5_000 + ": 1</answer>",
    "a 5000-digit number": "<answer>" + "9" * 5_000 + "</answer>",
}


@pytest.mark.timeout(120)  # a quadratic parser would hang here for many minutes, not fail
@pytest.mark.parametrize("name", ALL)
def test_hostile_completions_get_a_verdict(name):
    env = get_environment(name)
    inst = env.sample(0)
    for label, text in HOSTILE.items():
        verdict = env.score(inst, text)
        assert verdict.status in ("wrong_format", "ok"), label
        assert verdict.reward == 0.0, (label, verdict)
    assert env.score(inst, "<answer>" + "1 " * 6_000 + "</answer>").status == "wrong_format"


def test_grids_may_have_box_rules_and_separators():
    inst = get_environment("sudoku").sample(4)
    rows = [" ".join(map(str, r[:3])) + " | " + " ".join(map(str, r[3:6])) + " | " + " ".join(map(str, r[6:]))
            for r in inst.solution]
    ruled = "\n".join(rows[:3] + ["------+-------+------"] + rows[3:6] + ["------+-------+------"] + rows[6:])
    assert score("sudoku", inst, f"<answer>\n{ruled}\n</answer>").reward == 1.0
    compact = "\n".join("".join(map(str, r)) for r in inst.solution)
    assert score("sudoku", inst, f"<answer>{compact}</answer>").reward == 1.0


def test_planted_sat_does_not_give_its_assignment_away_to_a_majority_vote():
    def majority_agreement(hide: bool) -> float:
        agree = total = 0
        for seed in range(30):
            inst = get_environment("planted_sat").sample(seed, {"n_vars": 50, "hide_polarity": hide})
            balance: dict[int, int] = {}
            for clause in inst.data["clauses"]:
                for lit in clause:
                    balance[abs(lit)] = balance.get(abs(lit), 0) + (1 if lit > 0 else -1)
            for lit in inst.solution:
                if balance.get(abs(lit)):
                    total += 1
                    agree += (balance[abs(lit)] > 0) == (lit > 0)
        return agree / total

    assert majority_agreement(hide=False) > 0.65  # the naive construction leaks
    assert majority_agreement(hide=True) < 0.58   # balanced signs: a vote is a coin flip
