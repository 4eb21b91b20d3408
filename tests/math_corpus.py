"""Shared helpers for the math tests: the labelled corpora and how each labeller is run on them.

`mathverify_cases.jsonl`: the Math-Verify test suite's cases (six upstream labels corrected, each noted).
`math_hard_cases.jsonl`: our own cases built from Math-Verify's known failure modes, answer formats,
exactness traps and gaming attempts; bare LaTeX golds there are given to Math-Verify in `$...$`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
MATHVERIFY_CASES = DATA / "mathverify_cases.jsonl"
HARD_CASES = DATA / "math_hard_cases.jsonl"


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def set_name(row: dict[str, Any]) -> str:
    """The labelled set a row belongs to (for the upstream corpus: its test file)."""
    if "set" in row:
        return row["set"]
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


def math_verify_gold(row: dict[str, Any]) -> str:
    gold = row["gold"]
    return gold if "set" not in row or "$" in gold or "\\boxed" in gold else f"${gold}$"


# Run as a script: label a corpus with Math-Verify used the common way (parse gold, parse pred,
# verify, its defaults and its own timeouts, main thread of a fresh process); prints JSON labels.
if __name__ == "__main__":
    from math_verify import parse, verify

    out = []
    for row in load(Path(sys.argv[1])):
        kwargs: dict[str, Any] = {}
        if "precision" in row:
            kwargs["float_rounding"] = row["precision"]
        if "strict" in row:
            kwargs["strict"] = row["strict"]
        if "allow_set_relation_comp" in row:
            kwargs["allow_set_relation_comp"] = row["allow_set_relation_comp"]
        out.append(int(bool(verify(parse(math_verify_gold(row)), parse(row["pred"]), **kwargs))))
    print(json.dumps(out))
