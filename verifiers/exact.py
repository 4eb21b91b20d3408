"""`exact`: normalised string match against one or several accepted references."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from verifiers.base import Context, Verifier
from verifiers.contract import Verdict
from verifiers.text import after_reasoning, normalise


class ExactParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_sensitive: bool = False
    whitespace: Literal["exact", "strip", "collapse", "remove"] = "collapse"
    ignore_punctuation: bool = False
    after_reasoning: bool = True  # compare only what follows a closed </think> block


def accepted_strings(reference: Any) -> list[str]:
    """A reference is one string or a non-empty list of accepted strings."""
    if isinstance(reference, str):
        return [reference]
    if isinstance(reference, list) and reference and all(isinstance(r, str) for r in reference):
        return list(reference)
    raise ValueError("reference must be a string or a non-empty list of strings")


class ExactVerifier(Verifier):
    name = "exact"
    version = 1
    description = "Normalised string equality (case, whitespace and punctuation options)."
    Params = ExactParams

    def check_reference(self, reference: Any, params: ExactParams) -> Any:
        return accepted_strings(reference)

    def verify(self, completion: str, reference: Any, params: ExactParams, ctx: Context) -> Verdict:
        answer = after_reasoning(completion) if params.after_reasoning else completion
        norm = dict(case_sensitive=params.case_sensitive, whitespace=params.whitespace,
                    punctuation=not params.ignore_punctuation)
        got = normalise(answer, **norm)
        for ref in accepted_strings(reference):
            if got == normalise(ref, **norm):
                return Verdict.scored(1.0, details={"matched": ref})
        return Verdict.scored(0.0, details={"answer": got[:200]})
