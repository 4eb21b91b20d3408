"""Options of the `math` verifier."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MathParams(BaseModel):
    """How answers are found and compared. Every field has a safe default for RL rewards."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    extraction: Literal["auto", "boxed", "marked", "whole"] = Field(
        "auto",
        description="where the answer is taken from: `auto` = last \\boxed{}, then 'final answer' markers, "
        "then 'the answer is', then the last math expression; `boxed` = only \\boxed{}; `marked` = \\boxed{} "
        "or an explicit answer marker; `whole` = the whole completion is the answer",
    )
    several_boxed: Literal["last", "reject"] = Field(
        "last", description="several different \\boxed{} answers that are not one joined list ('\\boxed{3} ... "
        "\\boxed{5}'): `last` scores the last one (earlier boxes were steps), `reject` scores 0 as hedging")
    after_reasoning: bool = Field(True, description="only text after a closed </think> block counts; "
                                  "an unclosed <think> block means no answer")
    tolerance: float = Field(1e-6, ge=0.0, le=0.5, description="relative tolerance, used only when one side "
                             "is a decimal approximation; exact values are always compared exactly")
    strict: bool = Field(True, description="variable names must match (f(x) differs from f(y))")
    allow_units: bool = Field(True, description="strip units and \\text{} decorations after a number "
                              "(`5 \\text{ cm}` matches 5); when false they must match the reference")
    set_relation: bool = Field(False, description="an interval or set reference also accepts the equivalent "
                               "inequality (x \\in [a,b] accepts a <= x <= b); an inequality reference always "
                               "accepts its interval")
    engine_fallback: bool = Field(True, description="hand answers the exact paths cannot parse to "
                                  "math-verify/sympy, under cost guards")
    reference_from_group: Literal["majority"] | None = Field(
        None, description="label-free scoring: with `reference: null` and a `group`, the reference is the "
        "group's majority answer (answers grouped by equivalence, so 1/2 and 0.5 vote together)")
    max_chars: int = Field(50_000, ge=100, le=1_000_000, description="the answer text (after </think>) "
                           "is cut to its last max_chars characters (the verdict says so)")
