"""One batch of grading tasks -> critiques and scores: limits, generation, parsing, fallback."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
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
                 should_stop: Callable[[], bool] | None = None, temperature: float = 0.0) -> list[list[int]]: ...
    def candidate_logprobs(self, items: list[tuple[list[int], list[list[int]]]],
                           token_budget: int) -> list[list[float]]: ...


@dataclass(frozen=True)
class ScoreJob:
    task: GradingTask
    max_new_tokens: int
    samples: int = 1  # critiques sampled per item; the score is their mean (inference-time scaling)
    temperature: float = 0.0  # 0 = greedy decoding

    @property
    def sequences(self) -> int:
        return self.samples


@dataclass
class SampleOutcome:
    critique: str
    score: float
    score_source: ScoreSource
    score_probs: dict[str, float] | None = None
    completion_tokens: int = 0


@dataclass
class ScoreOutcome:
    critique: str | None = None
    score: float | None = None
    reward: float | None = None
    score_source: ScoreSource | None = None
    score_probs: dict[str, float] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    samples: list[SampleOutcome] | None = None  # when more than one critique was sampled
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


@dataclass
class _Row:
    """One generated critique: an item's only one, or one of its samples."""

    item: _Prepared
    critique_ids: list[int] = field(default_factory=list)
    result: SampleOutcome | None = None


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
        rows = [_Row(p) for p in runnable for _ in range(p.job.samples)]
        by_temperature: dict[float, list[_Row]] = {}
        for row in rows:
            by_temperature.setdefault(row.item.job.temperature, []).append(row)
        for temperature, group in by_temperature.items():  # one generate call per decoding mode
            longest = max(r.item.job.max_new_tokens for r in group)
            generated = self.model.generate([r.item.prompt_ids for r in group], longest, should_stop,
                                            temperature=temperature)
            for row, ids in zip(group, generated):
                # Greedy decoding: the first k tokens of a longer run equal a run of k, so one
                # batch serves items with different length limits.
                row.critique_ids = ids[: row.item.job.max_new_tokens]
        if should_stop():  # the service is closing, or every client of this batch has gone
            for p in runnable:
                outcomes[p.index].error_kind = "stopped"
                outcomes[p.index].error = "generation was stopped: the service is shutting down"
            return outcomes
        needs_fallback: list[_Row] = []
        for row in rows:
            critique = self.model.decode(row.critique_ids)
            score = parse_score(critique, row.item.job.task.scale)
            row.result = SampleOutcome(critique=critique, score=score or 0.0, score_source="text",
                                       completion_tokens=len(row.critique_ids))
            if score is None:
                needs_fallback.append(row)
        if needs_fallback:
            self._expected_value_fallback(needs_fallback)
        for p in runnable:
            self._aggregate(outcomes[p.index], p, [r.result for r in rows if r.item is p and r.result])
        return outcomes

    @staticmethod
    def _aggregate(out: ScoreOutcome, item: _Prepared, samples: list[SampleOutcome]) -> None:
        first = samples[0]
        out.critique = first.critique
        out.completion_tokens = sum(s.completion_tokens for s in samples)
        if len(samples) == 1:
            out.score, out.score_source, out.score_probs = first.score, first.score_source, first.score_probs
        else:
            out.score = sum(s.score for s in samples) / len(samples)
            out.score_source = "text" if all(s.score_source == "text" for s in samples) else "expected_value"
            out.samples = samples
        out.reward = item.job.task.scale.to_reward(out.score)

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

    def _expected_value_fallback(self, rows: list[_Row]) -> None:
        """The model wrote no score: cue it with "Score:" after its critique and take the
        expected value of the scale under the probabilities it gives each score."""
        cue = self.model.encode_fragment(SCORE_CUE)
        queries = [
            (r.item.prompt_ids + r.critique_ids + cue,
             [self.model.encode_fragment(r.item.job.task.scale.candidate(v)) for v in r.item.job.task.scale.values])
            for r in rows
        ]
        logprobs = self.model.candidate_logprobs(queries, self.limits.fallback_token_budget)
        for row, row_logprobs in zip(rows, logprobs):
            assert row.result is not None
            score, probs = expected_score(row.item.job.task.scale, row_logprobs)
            row.result.score, row.result.score_source = score, "expected_value"
            row.result.score_probs = {k: round(v, 6) for k, v in probs.items()}
