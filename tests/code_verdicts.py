"""Assertions on `code` verdicts, shared by the reward-hack and trusted-test suites."""

from __future__ import annotations

import verifiers


def score_test_code(language: str, program: str, test: str, declaration: str | None, task_id: str,
                    **params) -> verifiers.Verdict:
    """A fenced program against a HumanEval-X-shaped record (`test`, and its `declaration` if any)."""
    reference = {"language": language, "test": test, "task_id": task_id}
    if declaration is not None:
        reference["declaration"] = declaration
    return verifiers.verify("code", completion=f"```{language}\n{program}```", timeout_s=120, reference=reference,
                            params=params or None)


def assert_zero(verdict) -> None:
    """A hack or a wrong program: reward 0, scored (`ok`) or refused for its form (`wrong_format`),
    never an error that a trainer would mask."""
    assert verdict.reward == 0.0 and verdict.status.value in ("ok", "wrong_format"), \
        (verdict.status, verdict.reward, verdict.message, verdict.details)


def assert_one(verdict) -> None:
    assert verdict.reward == 1.0 and verdict.status.value == "ok", (verdict.status, verdict.message, verdict.details)
