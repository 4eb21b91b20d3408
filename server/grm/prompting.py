"""The grading prompt: what the reward model is asked, built from one item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.grm.parsing import Scale

SYSTEM_PROMPT = (
    "You are a strict and fair grader. You read a prompt and a response to it, write a short "
    "critique of the response, and finish with its score."
)

# Used when the tokenizer has no chat template (base models).
PLAIN_TEMPLATE = "{system}\n\n### Task\n{user}\n\n### Critique\n"

# Appended to the critique when the model wrote no score, to read the score tokens' probabilities.
SCORE_CUE = "\nScore:"


@dataclass(frozen=True)
class GradingTask:
    """One thing to grade."""

    prompt: str
    response: str
    reference: str | None = None
    principles: tuple[str, ...] = field(default_factory=tuple)
    scale: Scale = field(default_factory=Scale)

    @property
    def chars(self) -> int:
        return len(self.prompt) + len(self.response) + len(self.reference or "") + sum(map(len, self.principles))


def user_message(task: GradingTask) -> str:
    parts = [f"[Prompt]\n{task.prompt}", f"[Response]\n{task.response}"]
    criteria = "how correct, helpful and clear it is"
    if task.reference is not None:
        parts.append(f"[Reference answer]\n{task.reference}")
        criteria = "whether it agrees with the reference answer, and " + criteria
    if task.principles:
        listed = "\n".join(f"{i}. {p}" for i, p in enumerate(task.principles, 1))
        parts.append(f"[Principles]\n{listed}")
        criteria = "how well it follows each principle, and " + criteria
    low, high = task.scale.low, task.scale.high
    parts.append(
        f"Write a short critique of the response: {criteria}. Then end with a final line "
        f'"Score: N/{high}", where N is an integer from {low} (worst) to {high} (best).'
    )
    return "\n\n".join(parts)


def render(task: GradingTask, tokenizer: Any) -> str:
    """The full text fed to the model, through its chat template when it has one."""
    user = user_message(task)
    if not getattr(tokenizer, "chat_template", None):
        return PLAIN_TEMPLATE.format(system=SYSTEM_PROMPT, user=user)
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:  # some templates (Gemma's) refuse a system turn: fold it into the user turn
        merged = [{"role": "user", "content": f"{SYSTEM_PROMPT}\n\n{user}"}]
        return tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)
