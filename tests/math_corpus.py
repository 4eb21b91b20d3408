"""Shared helpers for the math tests: the labelled corpus and how each labeller is run on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "mathverify_cases.jsonl"


def load_corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def set_name(row: dict[str, Any]) -> str:
    """The upstream test file a row comes from: one labelled set per file."""
    return row["source"].rsplit("/", 1)[-1].removesuffix(".py")


def our_params(row: dict[str, Any]) -> dict[str, Any]:
    """The row's comparison options in our params: precision p = tolerance 10^-p."""
    params: dict[str, Any] = {}
    if "precision" in row:
        params["tolerance"] = 10.0 ** -row["precision"]
    if "strict" in row:
        params["strict"] = row["strict"]
    if "allow_set_relation_comp" in row:
        params["set_relation"] = row["allow_set_relation_comp"]
    return params


# Run as a script: label the corpus with Math-Verify used the common way (parse gold, parse pred,
# verify, its defaults and its own timeouts, main thread of a fresh process); prints JSON labels.
if __name__ == "__main__":
    from math_verify import parse, verify

    out = []
    for row in load_corpus():
        kwargs: dict[str, Any] = {}
        if "precision" in row:
            kwargs["float_rounding"] = row["precision"]
        if "strict" in row:
            kwargs["strict"] = row["strict"]
        if "allow_set_relation_comp" in row:
            kwargs["allow_set_relation_comp"] = row["allow_set_relation_comp"]
        out.append(int(bool(verify(parse(row["gold"]), parse(row["pred"]), **kwargs))))
    print(json.dumps(out))
