"""`regex`: the completion matches a pattern (fullmatch or search)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from verifiers.base import Context, Verifier
from verifiers.contract import Verdict
from verifiers.text import after_reasoning


class RegexParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["fullmatch", "search"] = "fullmatch"
    ignore_case: bool = False
    multiline: bool = False
    dotall: bool = False
    strip: bool = True  # strip surrounding whitespace before matching
    after_reasoning: bool = True


def _flags(params: RegexParams) -> int:
    return (re.IGNORECASE if params.ignore_case else 0) | (re.MULTILINE if params.multiline else 0) | (
        re.DOTALL if params.dotall else 0
    )


class RegexVerifier(Verifier):
    name = "regex"
    version = 1
    description = "The completion matches the reference regular expression (Python syntax)."
    Params = RegexParams

    def check_reference(self, reference: Any, params: RegexParams) -> Any:
        if not isinstance(reference, str):
            raise ValueError("reference must be a regular expression string")
        try:
            re.compile(reference, _flags(params))
        except re.error as exc:
            raise ValueError(f"reference is not a valid regular expression: {exc}") from None
        return reference

    def verify(self, completion: str, reference: Any, params: RegexParams, ctx: Context) -> Verdict:
        text = after_reasoning(completion) if params.after_reasoning else completion
        if params.strip:
            text = text.strip()
        pattern = re.compile(reference, _flags(params))
        match = pattern.fullmatch(text) if params.mode == "fullmatch" else pattern.search(text)
        if match is None:
            return Verdict.scored(0.0, details={"mode": params.mode})
        return Verdict.scored(1.0, details={"mode": params.mode, "match": match.group(0)[:200]})
