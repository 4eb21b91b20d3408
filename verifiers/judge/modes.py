"""The four ways of judging, as a table: what one sample asks, how its replies are read, and how
k samples are voted into one reward."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from verifiers.judge import parsing, prompts
from verifiers.judge.params import JudgeParams, JudgeReference

OUTCOME_REWARD = {"win": 1.0, "tie": 0.5, "loss": 0.0}


@dataclass(frozen=True)
class Ask:
    """One chat request of a sample; `tag` tells the asks of one sample apart (pairwise orders)."""

    messages: tuple[dict[str, str], ...]
    schema: dict[str, Any]
    tag: str = ""


@dataclass
class Outcome:
    reward: float
    components: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def _majority_share(yes: int, total: int) -> float:
    """1 if most said yes, 0 if most said no, 0.5 on a split vote."""
    return 1.0 if 2 * yes > total else 0.0 if 2 * yes < total else 0.5


class JudgeMode(ABC):
    name: str

    @abstractmethod
    def asks(self, params: JudgeParams, ref: JudgeReference, response: str) -> list[Ask]: ...

    @abstractmethod
    def read(self, replies: list[str], params: JudgeParams) -> Any | None:
        """The verdict of one sample, or None when a reply does not contain one."""

    @abstractmethod
    def combine(self, values: list[Any], params: JudgeParams) -> Outcome: ...


class Rubric(JudgeMode):
    """Pointwise score on [scale_min, scale_max], normalised to [0, 1]."""

    name = "rubric"

    def asks(self, params, ref, response):
        return [Ask(*prompts.rubric(params, ref, response))]

    def read(self, replies, params):
        return parsing.parse_score(replies[0], params.scale_min, params.scale_max)

    def combine(self, values, params):
        if params.vote == "majority":
            counts = Counter(values).most_common()
            top = [v for v, c in counts if c == counts[0][1]]
            score = fmean(top)  # a tie between scores takes their mean
        else:
            score = fmean(values)
        reward = (score - params.scale_min) / (params.scale_max - params.scale_min)
        return Outcome(reward, summary={"score": score, "scale": [params.scale_min, params.scale_max]})


class Principles(JudgeMode):
    """A yes/no verdict per principle; reward = weighted share of principles satisfied."""

    name = "principles"

    def asks(self, params, ref, response):
        return [Ask(*prompts.principles(params, ref, response))]

    def read(self, replies, params):
        return parsing.parse_principle_verdicts(replies[0], len(params.principles))

    def combine(self, values, params):
        components: dict[str, float] = {}
        total = weighted = 0.0
        for i, principle in enumerate(params.principles):
            yes = sum(1 for v in values if v[i])
            share = yes / len(values) if params.vote == "mean" else _majority_share(yes, len(values))
            components[principle.name or f"p{i + 1}"] = share
            weighted += principle.weight * share
            total += principle.weight
        return Outcome(weighted / total, components=components)


class ReferenceMatch(JudgeMode):
    """Is the completion's answer equivalent to the reference answer? (1 / 0)"""

    name = "reference"

    def asks(self, params, ref, response):
        return [Ask(*prompts.reference(params, ref, response))]

    def read(self, replies, params):
        return parsing.parse_equivalent(replies[0])

    def combine(self, values, params):
        yes = sum(values)
        reward = yes / len(values) if params.vote == "mean" else _majority_share(yes, len(values))
        return Outcome(reward, summary={"equivalent_votes": yes})


class Pairwise(JudgeMode):
    """Completion vs reference.other, asked in both orders; orders that disagree make a tie.
    Reward: 1 win, 0.5 tie, 0 loss (for the completion)."""

    name = "pairwise"

    def asks(self, params, ref, response):
        other = ref.other or ""
        return [Ask(*prompts.pairwise(params, ref, response, other), tag="completion_first"),
                Ask(*prompts.pairwise(params, ref, other, response), tag="completion_second")]

    def read(self, replies, params):
        first, second = parsing.parse_winner(replies[0]), parsing.parse_winner(replies[1])
        if first is None or second is None:
            return None
        as_first = {"A": "win", "B": "loss", "tie": "tie"}[first]
        as_second = {"B": "win", "A": "loss", "tie": "tie"}[second]
        consistent = as_first == as_second
        return {"winner_completion_first": first, "winner_completion_second": second,
                "consistent": consistent, "outcome": as_first if consistent else "tie"}

    def combine(self, values, params):
        outcomes = [v["outcome"] for v in values]
        if params.vote == "majority":
            counts = Counter(outcomes).most_common()
            unique_top = len(counts) == 1 or counts[0][1] > counts[1][1]
            reward = OUTCOME_REWARD[counts[0][0]] if unique_top else 0.5
        else:
            reward = fmean(OUTCOME_REWARD[o] for o in outcomes)
        tally = Counter(outcomes)
        return Outcome(reward, summary={
            "wins": tally["win"], "ties": tally["tie"], "losses": tally["loss"],
            "position_inconsistent": sum(1 for v in values if not v["consistent"]),
        })


MODES: dict[str, JudgeMode] = {m.name: m for m in (Rubric(), Principles(), ReferenceMatch(), Pairwise())}
