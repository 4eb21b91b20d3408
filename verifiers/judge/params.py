"""What a scoring request may say about judging: the judge to use, the mode and its options,
and the reference shape (the task, a reference answer, the competing response)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Mode = Literal["rubric", "principles", "reference", "pairwise"]


class Principle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)
    weight: float = Field(1.0, gt=0)
    name: str | None = Field(None, description="component name; default p1, p2, …")


class JudgeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    judge: str = Field("default", description="name of a judge configured on the server")
    mode: Mode = "rubric"
    rubric: str | None = Field(None, max_length=20_000, description="rubric mode: what a good response does")
    scale_min: int = Field(1, description="rubric mode: worst score")
    scale_max: int = Field(10, description="rubric mode: best score")
    principles: list[Principle] = Field(default_factory=list, max_length=64,
                                        description="principles mode: yes/no criteria, weighted")
    samples: int = Field(1, ge=1, le=32, description="k judge samples to vote over")
    vote: Literal["mean", "majority"] = "mean"
    min_valid_samples: int | None = Field(None, ge=1, description="default: more than half of `samples`")
    temperature: float | None = Field(None, ge=0, le=2, description="default: the judge's temperature "
                                      "for one sample, its sampling_temperature for k > 1")
    max_tokens: int | None = Field(None, ge=1, le=32_768)
    critique: bool = Field(True, description="ask for a short critique before the verdict")
    after_reasoning: bool = Field(True, description="judge only the text after the last </think>")
    instructions: str | None = Field(None, max_length=20_000, description="replaces the default system prompt")

    @field_validator("principles", mode="before")
    @classmethod
    def _strings_are_principles(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"text": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("judge")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @model_validator(mode="after")
    def _consistent(self) -> JudgeParams:
        if self.scale_max <= self.scale_min:
            raise ValueError("scale_max must be greater than scale_min")
        if self.mode == "principles" and not self.principles:
            raise ValueError("principles mode needs at least one principle")
        if self.min_valid_samples is not None and self.min_valid_samples > self.samples:
            raise ValueError("min_valid_samples cannot exceed samples")
        return self

    @property
    def needed_valid(self) -> int:
        return self.min_valid_samples or self.samples // 2 + 1


class JudgeReference(BaseModel):
    """The item's reference: a plain string is shorthand for `answer` (or `other` in pairwise)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(None, description="the task the completion answers")
    answer: str | None = Field(None, description="a reference answer (needed by reference mode)")
    other: str | None = Field(None, description="the competing response (needed by pairwise mode)")

    @classmethod
    def from_raw(cls, raw: Any, mode: Mode) -> JudgeReference:
        if raw is None:
            ref = cls()
        elif isinstance(raw, str):
            ref = cls(other=raw) if mode == "pairwise" else cls(answer=raw)
        elif isinstance(raw, dict):
            ref = cls.model_validate(raw)
        else:
            raise ValueError("reference must be a string or an object with prompt / answer / other")
        if mode == "reference" and not ref.answer:
            raise ValueError("reference mode needs reference.answer")
        if mode == "pairwise" and ref.other is None:
            raise ValueError("pairwise mode needs reference.other (the response to compare against)")
        return ref
