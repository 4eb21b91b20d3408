"""Majority vote over a group's answers, for label-free rewards (test-time RL, self-consistency).

Each completion's final answer is extracted the way `math` scores it; answers are put into
classes by the same equivalence checker (so `1/2`, `0.5` and `\\frac{1}{2}` vote together), and
the largest class wins (ties go to the class that appeared first). The winner's first spelling
becomes the reference every item of the group is scored against.
"""

from __future__ import annotations

from typing import Any

from verifiers.contract import Status, Verdict
from verifiers.math_verifier.decide import decide
from verifiers.math_verifier.extraction import extract, visible_text
from verifiers.math_verifier.params import MathParams


def final_answer(completion: str, params: MathParams) -> str | None:
    """The answer `math` would score, or None when there is none it can read (such completions
    abstain: scored against any reference they would be `wrong_format`)."""
    visible, _ = visible_text(completion, params.after_reasoning)
    if visible is None:
        return None
    answer = extract(visible[-params.max_chars:], params.extraction).answer
    if answer is None or decide(_PROBE_REFERENCE, answer, params).equal is None:
        return None
    return answer


_PROBE_REFERENCE = "0"


def majority_vote(completions: list[str], params: MathParams) -> Verdict:
    """`ok` with details {answer, votes, voters, abstained, tie}, or `wrong_format` when no
    completion has an answer to vote for."""
    classes: list[dict[str, Any]] = []  # {"answer": first spelling, "count": n, "spellings": set}
    abstained = 0
    for completion in completions:
        answer = final_answer(completion, params)
        if answer is None:
            abstained += 1
            continue
        for cls in classes:
            if answer == cls["answer"] or decide(cls["answer"], answer, params).equal:
                cls["count"] += 1
                cls["spellings"].add(answer[:100])
                break
        else:
            classes.append({"answer": answer, "count": 1, "spellings": {answer[:100]}})
    if not classes:
        return Verdict.failed(Status.wrong_format, "no completion in the group has an answer to vote for",
                              details={"voters": 0, "abstained": abstained})
    ranked = sorted(classes, key=lambda c: -c["count"])  # stable: ties keep first appearance
    winner = ranked[0]
    votes = [{"answer": c["answer"][:200], "count": c["count"], "spellings": sorted(c["spellings"])[:10]}
             for c in ranked[:20]]
    tie = len(ranked) > 1 and ranked[1]["count"] == winner["count"]
    return Verdict.scored(1.0, details={"answer": winner["answer"], "votes": votes,
                                        "voters": len(completions) - abstained, "abstained": abstained,
                                        "tie": tie})
