"""Accuracy on the labelled Math-Verify corpus, ours against Math-Verify itself in the same run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.math_corpus import load_corpus, our_params, set_name
from verifiers.math_verifier import verify_batch

ROWS = load_corpus()


def _ours() -> list[int]:
    labels = []
    for row in ROWS:
        (verdict,) = verify_batch([row["pred"]], row["gold"], our_params(row))
        labels.append(int(verdict.reward == 1.0))
    return labels


@pytest.fixture(scope="module")
def math_verify_labels() -> list[int]:
    script = Path(__file__).parent / "math_corpus.py"
    proc = subprocess.run([sys.executable, "-m", "tests.math_corpus"], cwd=script.parent.parent,
                          capture_output=True, text=True, timeout=600, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _accuracy_by_set(labels: list[int]) -> dict[str, tuple[int, int]]:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row, got in zip(ROWS, labels):
        tally[set_name(row)][0] += int(got == row["expected"])
        tally[set_name(row)][1] += 1
    return {k: (v[0], v[1]) for k, v in tally.items()}


def test_corpus_is_the_full_labelled_set():
    assert len(ROWS) == 269
    assert sum(r["expected"] for r in ROWS) == 230


def test_accuracy_at_least_math_verify_on_every_set(math_verify_labels):
    ours = _accuracy_by_set(_ours())
    theirs = _accuracy_by_set(math_verify_labels)
    report = {name: {"ours": ours[name], "math_verify": theirs[name]} for name in sorted(ours)}
    print(json.dumps(report, indent=1))
    for name in ours:
        assert ours[name][0] >= theirs[name][0], (name, report[name])
    assert sum(v[0] for v in ours.values()) > sum(v[0] for v in theirs.values())


def test_every_corpus_row_is_right():
    wrong = [(i, row["gold"][:60], row["pred"][-60:]) for i, (row, got) in enumerate(zip(ROWS, _ours()))
             if got != row["expected"]]
    assert wrong == []
