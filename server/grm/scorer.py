"""One batch of grading tasks -> critiques and scores: limits, generation, parsing, fallback."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Literal, Protocol

from server.grm.parsing import Scale, parse_score
from server.grm.prompting import SCORE_CUE, GradingTask, render

ErrorKind = Literal["too_long", "stopped"]
ScoreSource = Literal["text", "expected_value"]


class LanguageModel(Protocol):
    """What the scorer needs from a loaded model (`server.grm.model.GRMModel` provides it)."""

    tokenizer: object

    def encode_prompt(self, text: str) -> list[int]: ...
    def encode_fragment(self, text: str) -> list[int]: ...
    def decode(self, ids: list[int]) -> str: ...
    def generate(self, prompts: list[list[int]], max_new_tokens: int,
                 should_stop: Callable[[], bool] | None = None) -> list[list[int]]: ...
    def candidate_logprobs(self, items: list[tuple[list[int], list[list[int]]]],
                           token_budget: int) -> list[list[float]]: ...


@dataclass(frozen=True)
class ScoreJob:
    task: GradingTask
    max_new_tokens: int


@dataclass
class ScoreOutcome:
    critique: str | None = None
    score: float | None = None
    reward: float | None = None
    score_source: ScoreSource | None = None
    score_probs: dict[str, float] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    error_kind: ErrorKind | None = None


@dataclass(frozen=True)
class Limits:
    max_input_chars: int
    max_input_tokens: int
    fallback_token_budget: int = 32_768


@dataclass
class _Prepared:
    index: int
    job: ScoreJob
    prompt_ids: list[int]
    critique_ids: list[int] = field(default_factory=list)


def expected_score(scale: Scale, logprobs: list[float]) -> tuple[float, dict[str, float]]:
    """Normalise the candidates' log-probabilities over the scale and take the expected value."""
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    probs = {str(v): w / total for v, w in zip(scale.values, weights)}
    return sum(v * probs[str(v)] for v in scale.values), probs


class GRMScorer:
    """Scores a batch in one `generate` call; runs in a worker thread, never on the event loop."""

    def __init__(self, model: LanguageModel, limits: Limits) -> None:
        self.model = model
        self.limits = limits

    def score_batch(self, jobs: list[ScoreJob], should_stop: Callable[[], bool] = lambda: False) -> list[ScoreOutcome]:
        outcomes = [ScoreOutcome() for _ in jobs]
        runnable = [p for p in (self._prepare(i, job, outcomes[i]) for i, job in enumerate(jobs)) if p]
        if not runnable:
            return outcomes
        longest = max(p.job.max_new_tokens for p in runnable)
        # Greedy decoding: the first k tokens of a longer run equal a run of k, so one batch
        # serves items with different length limits.
        generated = self.model.generate([p.prompt_ids for p in runnable], longest, should_stop)
        if should_stop():  # the service is closing, or every client of this batch has gone
            for p in runnable:
                outcomes[p.index].error_kind = "stopped"
                outcomes[p.index].error = "generation was stopped: the service is shutting down"
            return outcomes
        needs_fallback: list[_Prepared] = []
        for p, ids in zip(runnable, generated):
            p.critique_ids = ids[: p.job.max_new_tokens]
            out = outcomes[p.index]
            out.critique = self.model.decode(p.critique_ids)
            out.completion_tokens = len(p.critique_ids)
            score = parse_score(out.critique, p.job.task.scale)
            if score is None:
                needs_fallback.append(p)
            else:
                out.score, out.score_source = score, "text"
        if needs_fallback:
            self._expected_value_fallback(needs_fallback, outcomes)
        for job, out in zip(jobs, outcomes):
            if out.score is not None:
                out.reward = job.task.scale.to_reward(out.score)
        return outcomes

    def _prepare(self, index: int, job: ScoreJob, out: ScoreOutcome) -> _Prepared | None:
        chars = job.task.chars
        if chars > self.limits.max_input_chars:
            out.error_kind = "too_long"
            out.error = f"item has {chars} characters, over the limit max_input_chars={self.limits.max_input_chars}"
            return None
        ids = self.model.encode_prompt(render(job.task, self.model.tokenizer))
        out.prompt_tokens = len(ids)
        if len(ids) > self.limits.max_input_tokens:
            out.error_kind = "too_long"
            out.error = (f"grading prompt has {len(ids)} tokens, over the limit "
                         f"max_input_tokens={self.limits.max_input_tokens}")
            return None
        return _Prepared(index=index, job=job, prompt_ids=ids)

    def _expected_value_fallback(self, items: list[_Prepared], outcomes: list[ScoreOutcome]) -> None:
        """The model wrote no score: cue it with "Score:" after its critique and take the
        expected value of the scale under the probabilities it gives each score."""
        cue = self.model.encode_fragment(SCORE_CUE)
        queries = [
            (p.prompt_ids + p.critique_ids + cue,
             [self.model.encode_fragment(p.job.task.scale.candidate(v)) for v in p.job.task.scale.values])
            for p in items
        ]
        logprobs = self.model.candidate_logprobs(queries, self.limits.fallback_token_budget)
        for p, item_logprobs in zip(items, logprobs):
            score, probs = expected_score(p.job.task.scale, item_logprobs)
            out = outcomes[p.index]
            out.score, out.score_source = score, "expected_value"
            out.score_probs = {k: round(v, 6) for k, v in probs.items()}
