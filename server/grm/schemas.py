"""Request and response bodies of `POST /v1/grm/score`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ScoreItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(description="what the response answers")
    response: str = Field(description="the text to grade")
    reference: str | None = Field(None, description="a reference answer to grade against")
    principles: list[str] | None = Field(None, description="principles the response should follow")


class ScoreScale(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: int = 1
    max: int = 10

    @model_validator(mode="after")
    def _ordered(self) -> ScoreScale:
        if self.max <= self.min:
            raise ValueError(f"scale max must be above min, got {self.min}..{self.max}")
        if self.max - self.min > 100:
            raise ValueError("a scale spans at most 100 steps")
        return self


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem] = Field(min_length=1)
    scale: ScoreScale = Field(default_factory=ScoreScale)
    max_new_tokens: int | None = Field(None, ge=1, description="critique length limit (default: the server's)")
    samples: int = Field(1, ge=1, description="critiques sampled per item; the score is their mean")
    temperature: float | None = Field(None, ge=0, le=2,
                                      description="0 is greedy; default 0 for one sample, 0.7 for several")


class SampleResult(BaseModel):
    critique: str
    score: float
    score_source: Literal["text", "expected_value"]
    score_probs: dict[str, float] | None = None
    completion_tokens: int = 0


class ScoreResult(BaseModel):
    critique: str | None = None
    score: float | None = Field(None, description="on the request's scale")
    reward: float | None = Field(None, description="the score mapped linearly onto [0, 1]")
    score_source: Literal["text", "expected_value"] | None = Field(
        None, description="read from the critique, or the expected value over the score tokens' probabilities")
    score_probs: dict[str, float] | None = Field(None, description="per score, when score_source is expected_value")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    samples: list[SampleResult] | None = Field(None, description="each sampled critique, when samples > 1")
    error: str | None = None
    error_kind: Literal["too_long", "stopped"] | None = None
    batch_id: int | None = Field(None, description="items with the same id were generated in one batch")
    batch_size: int | None = None


class ScoreResponse(BaseModel):
    model: str
    results: list[ScoreResult]
