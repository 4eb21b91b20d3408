"""Accuracy on the labelled corpora, ours against Math-Verify itself in the same run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.math_corpus import HARD_CASES, MATHVERIFY_CASES, load, our_params, set_name
from verifiers.math_verifier import verify_batch

CORPORA = {"mathverify": MATHVERIFY_CASES, "hard": HARD_CASES}


def ours(rows: list[dict]) -> list[int]:
    labels = []
    for row in rows:
        (verdict,) = verify_batch([row["pred"]], row["gold"], our_params(row))
        labels.append(int(verdict.reward == 1.0))
    return labels


def math_verify(path: Path) -> list[int]:
    """Math-Verify in a fresh process (its signal timeouts need a main thread)."""
    root = Path(__file__).parent.parent
    proc = subprocess.run([sys.executable, "-m", "tests.math_corpus", str(path)], cwd=root,
                          capture_output=True, text=True, timeout=600, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def by_set(rows: list[dict], labels: list[int]) -> dict[str, tuple[int, int]]:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row, got in zip(rows, labels):
        tally[set_name(row)][0] += int(got == row["expected"])
        tally[set_name(row)][1] += 1
    return {k: (v[0], v[1]) for k, v in tally.items()}


def test_upstream_corpus_is_complete():
    rows = load(MATHVERIFY_CASES)
    assert len(rows) == 269 and sum(r["expected"] for r in rows) == 225


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_accuracy_is_at_least_math_verify_on_every_set(corpus):
    rows = load(CORPORA[corpus])
    mine, theirs = by_set(rows, ours(rows)), by_set(rows, math_verify(CORPORA[corpus]))
    print("\n" + "\n".join(f"{corpus}/{name}: ours {mine[name][0]}/{mine[name][1]}, "
                           f"math-verify {theirs[name][0]}/{theirs[name][1]}" for name in sorted(mine)))
    for name in mine:
        assert mine[name][0] >= theirs[name][0], (name, mine[name], theirs[name])
    assert sum(v[0] for v in mine.values()) > sum(v[0] for v in theirs.values())


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_every_labelled_row_is_right(corpus):
    rows = load(CORPORA[corpus])
    wrong = [(i, row["gold"][:60], row["pred"][-60:]) for i, (row, got) in enumerate(zip(rows, ours(rows)))
             if got != row["expected"]]
    assert wrong == []
