"""One episode: a task, its tools (`submit`, optionally `run_python`), attempts and the final verdict.

Rewards. `submit(answer)` scores the answer with the task's verifier. With `max_attempts = 1`
(the default) the verdict's reward is the episode's reward and the episode ends. In "try again"
mode (`max_attempts > 1`) an answer that earns less than 1 is answered with reward 0, which
constraint failed and how many attempts are left, and the episode goes on; the episode ends at
the first answer that earns 1 or at the last attempt, with reward
`verdict.reward * discount ** (attempt - 1)`. An answer that could not be scored (status
`timeout`, `error`, `invalid_input`) is not an attempt: its reward is null, as for a masked
rollout.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.interpreter import CellResult
from server.ors.catalog import OrsEnvironment, ProceduralEnvironment
from verifiers.contract import Status, Verdict
from verifiers.runtime import Overloaded, Scorer, Unavailable

NOT_SCORED = (Status.timeout, Status.error, Status.invalid_input)
_SECRET_KEYS = re.compile(r"reference|expected|gold|solution|target|ground", re.IGNORECASE)

SUBMIT_TOOL = {
    "name": "submit",
    "description": "Submit your final answer to the task. The answer is scored and the reward returned.",
    "input_schema": {"type": "object", "properties": {"answer": {
        "type": "string", "description": "your answer, in the format the task asks for"}},
        "required": ["answer"]},
}
RUN_PYTHON_TOOL = {
    "name": "run_python",
    "description": ("Run Python code in a persistent sandboxed interpreter: variables, functions and imports "
                    "stay defined between calls. Returns what the code printed; the value of a final "
                    "expression is printed too. No network."),
    "input_schema": {"type": "object", "properties": {"code": {
        "type": "string", "description": "Python source to run"}}, "required": ["code"]},
}


class ToolInputError(ValueError):
    """A call the episode refuses: unknown tool, bad input, finished episode (`reason` says which)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def tool_specs(env: OrsEnvironment) -> list[dict[str, Any]]:
    return [SUBMIT_TOOL, RUN_PYTHON_TOOL] if env.options.interpreter else [SUBMIT_TOOL]


def text_block(text: str) -> dict[str, Any]:
    return {"text": text, "detail": None, "type": "text"}


def tool_output(text: str, *, reward: float | None = None, finished: bool = False,
                metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"ok": True, "output": {"blocks": [text_block(text)], "metadata": metadata, "reward": reward,
                                   "finished": finished}}


def public_verdict(env: OrsEnvironment, verdict: Verdict) -> dict[str, Any]:
    """The verdict as a client may see it: never anything that reveals the reference."""
    shown = verdict.model_dump(mode="json", exclude={"id", "cached"})
    if not isinstance(env, ProceduralEnvironment):  # a task file's verifier may quote its reference
        shown["details"] = {k: v for k, v in shown["details"].items() if not _SECRET_KEYS.search(k)}
        shown["message"] = None
    return shown


@dataclass
class Episode:
    env: OrsEnvironment
    task: dict[str, Any]
    prompt_text: str | None = None
    attempts: int = 0
    finished: bool = False
    reward: float | None = None
    verdict: Verdict | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def summary(self) -> dict[str, Any]:
        """What `GET /{env}/verdict` answers: the state of the episode and its final verdict."""
        return {"env_name": self.env.name, "task_spec": self.task, "finished": self.finished,
                "reward": self.reward, "attempts": self.attempts, "max_attempts": self.env.options.max_attempts,
                "verdict": public_verdict(self.env, self.verdict) if self.verdict is not None else None,
                "history": self.history}

    def prompt_suffix(self) -> str:
        attempts = self.env.options.max_attempts
        lines = ["", "Call the `submit` tool with your answer when you are done."]
        if attempts > 1:
            lines.append(f"You have {attempts} attempts: a wrong answer tells you what failed.")
        if self.env.options.interpreter:
            lines.append("The `run_python` tool runs Python code in a persistent interpreter.")
        return "\n".join(lines)

    async def submit(self, answer: Any, scorer: Scorer) -> dict[str, Any]:
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            answer = str(answer)
        if not isinstance(answer, str):
            raise ToolInputError("input_validation", "Tool input validation error: 'answer' must be a string")
        try:
            verdict = (await scorer.score([self.env.item(self.task, answer)]))[0]
        except (Overloaded, Unavailable) as exc:  # saturated workers, or Redis down: not the answer's fault
            status = "overloaded" if isinstance(exc, Overloaded) else "unavailable"
            return tool_output(f"The server cannot score now ({exc}); submit again shortly. "
                               "This was not counted as an attempt.", metadata={"status": status})
        shown = public_verdict(self.env, verdict)
        if verdict.status in NOT_SCORED:
            self.history.append({"attempt": None, "status": verdict.status.value, "reward": None})
            return tool_output(f"Your answer could not be scored ({verdict.status.value}): "
                               f"{shown['message'] or 'see the verdict'}. This was not counted as an attempt.",
                               metadata={"status": verdict.status.value, "verdict": shown, "attempt": None})
        self.attempts += 1
        options = self.env.options
        left = options.max_attempts - self.attempts
        accepted = verdict.reward >= 1.0
        self.history.append({"attempt": self.attempts, "status": verdict.status.value, "reward": verdict.reward})
        metadata = {"status": verdict.status.value, "verdict": shown, "attempt": self.attempts, "attempts_left": left}
        if accepted or left <= 0:
            self.finished, self.verdict = True, verdict
            self.reward = verdict.reward * options.discount ** (self.attempts - 1)
            text = "Correct." if accepted else f"Not accepted: {self._feedback(verdict, shown)}."
            return tool_output(f"{text} Reward: {self.reward:g}. The episode is finished.", reward=self.reward,
                               finished=True, metadata=metadata)
        return tool_output(f"Not accepted: {self._feedback(verdict, shown)}. You have {left} attempt"
                           f"{'s' if left != 1 else ''} left.", reward=0.0, metadata=metadata)

    @staticmethod
    def _feedback(verdict: Verdict, shown: dict[str, Any]) -> str:
        if verdict.status is Status.wrong_format:
            return f"the answer could not be read ({shown['message'] or 'wrong format'})"
        return shown["message"] or f"the answer earned {verdict.reward:g}"


def cell_output(result: CellResult) -> dict[str, Any]:
    """A `run_python` result as an ORS tool output (never a reward, never the end of the episode)."""
    parts = []
    if result.stdout:
        parts.append(result.stdout.rstrip("\n"))
    if result.stderr:
        parts.append(result.stderr.rstrip("\n"))
    if result.truncated:
        parts.append("[output truncated]")
    if result.stopped:
        parts.append(f"[interpreter stopped: {result.message}]")
    elif result.message:
        parts.append(f"[{result.message}]")
    text = "\n".join(parts) or "(no output)"
    return tool_output(text, metadata={"error": result.error, "stopped": result.stopped, "truncated": result.truncated,
                                       "wall_ms": round(result.wall_ms, 3)})
