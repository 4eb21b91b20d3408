"""`format`: the completion follows a tag schema, e.g. `<think>…</think>` then `<answer>…</answer>`."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from verifiers.base import Context, Verifier
from verifiers.contract import Verdict


class FormatParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(["think", "answer"], description="blocks that must appear, once each, in this order")
    allow_text_outside: bool = Field(False, description="tolerate non-blank text between/around the blocks")
    require_text_after: bool = Field(False, description="non-empty text must follow the last block")
    nonempty: bool = Field(True, description="every block must have non-blank content")

    @field_validator("tags")
    @classmethod
    def _plain_names(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not re.fullmatch(r"[A-Za-z][\w\-]*", tag):
                raise ValueError(f"tag {tag!r} is not a plain tag name")
        return tags


def check_format(text: str, params: FormatParams) -> str | None:
    """None if the text follows the schema, else the first rule it breaks."""
    position = 0
    for tag in params.tags:
        opens = [m.start() for m in re.finditer(f"<{tag}>", text)]
        closes = [m.start() for m in re.finditer(f"</{tag}>", text)]
        if len(opens) != 1 or len(closes) != 1:
            return f"<{tag}> must appear exactly once, opened and closed (found {len(opens)} open, {len(closes)} close)"
        start, end = opens[0], closes[0]
        if start < position or end < start:
            return f"<{tag}> block is out of order"
        if not params.allow_text_outside and text[position:start].strip():
            return f"unexpected text before <{tag}>"
        if params.nonempty and not text[start + len(tag) + 2:end].strip():
            return f"<{tag}> block is empty"
        position = end + len(tag) + 3
    trailing = text[position:].strip()
    if params.require_text_after and not trailing:
        return "no text after the last block"
    if trailing and not params.allow_text_outside and not params.require_text_after:
        return "unexpected text after the last block"
    return None


class FormatVerifier(Verifier):
    name = "format"
    version = 1
    description = "1 if the completion follows a tag schema (default: <think>…</think><answer>…</answer>), else 0."
    Params = FormatParams

    def verify(self, completion: str, reference: Any, params: FormatParams, ctx: Context) -> Verdict:
        problem = check_format(completion, params)
        if problem:
            return Verdict.scored(0.0, message=problem, details={"violation": problem})
        return Verdict.scored(1.0)
