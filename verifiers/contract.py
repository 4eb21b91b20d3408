"""The scoring contract: what a trainer sends (`Item`) and what it gets back (`Verdict`)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Status(str, Enum):
    """Why a verdict has the reward it has. Never a silent 0: a failure names itself."""

    ok = "ok"  # scored; the reward is the verifier's judgement (0 for a wrong answer)
    wrong_format = "wrong_format"  # no answer could be extracted / parsed from the completion
    invalid_input = "invalid_input"  # the item itself is bad: unknown verifier, bad params, bad reference
    timeout = "timeout"  # the item ran past its deadline and was cut off
    error = "error"  # the verifier crashed, or a dependency (judge server, sandbox) failed


class ChatMessage(BaseModel):
    """One OpenAI-style chat message. Content may be a string or a list of content parts."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class Item(BaseModel):
    """One rollout to score."""

    model_config = ConfigDict(extra="forbid")

    id: str | int | None = None
    verifier: str = Field(description="registry name, optionally pinned: `math`, `math@1`, `env:sudoku`")
    completion: str | list[ChatMessage] = Field(description="model output, or chat messages (last assistant turn is scored)")
    reference: Any = None
    params: dict[str, Any] = Field(default_factory=dict)
    group: str | int | None = None


class Verdict(BaseModel):
    """The answer for one item."""

    id: str | int | None = None
    reward: float = 0.0
    status: Status = Status.ok
    message: str | None = None
    components: dict[str, float] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    verifier: str | None = None
    elapsed_ms: float = 0.0
    cached: bool = False

    @classmethod
    def scored(cls, reward: float, **kw: Any) -> Verdict:
        return cls(reward=float(reward), status=Status.ok, **kw)

    @classmethod
    def failed(cls, status: Status, message: str, **kw: Any) -> Verdict:
        return cls(reward=0.0, status=status, message=message, **kw)


def _content_text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def completion_text(completion: str | list[ChatMessage] | list[dict[str, Any]]) -> str:
    """The text to score: the string itself, or the content of the last assistant turn."""
    if isinstance(completion, str):
        return completion
    for message in reversed(completion):
        msg = message if isinstance(message, ChatMessage) else ChatMessage.model_validate(message)
        if msg.role == "assistant":
            return _content_text(msg.content)
    raise ValueError("completion has no assistant message to score")
