"""Scoring many math items in this process, sharing the reference and decision caches.

This is the in-process batch path (one thread, no pool): for a GRPO step of k samples per prompt
each reference is parsed once and each distinct (reference, answer) decision is made once.
For process isolation and deadlines that kill overruns, score through the runtime or the server.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Sequence

from verifiers.contract import Status, Verdict
from verifiers.math_verifier.params import MathParams
from verifiers.math_verifier.verifier import MathVerifier, reference_text, score_completion


def verify_batch(
    completions: Sequence[str],
    references: Sequence[Any] | Any,
    params: MathParams | dict[str, Any] | None = None,
) -> list[Verdict]:
    """Score `completions[i]` against `references[i]` (or one shared reference); verdicts in order."""
    if isinstance(references, (str, int, float)):
        refs: Iterable[Any] = [references] * len(completions)
    else:
        refs = list(references)
        if len(refs) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(refs)} references")
    p = params if isinstance(params, MathParams) else MathParams.model_validate(params or {})
    spec = f"{MathVerifier.name}@{MathVerifier.version}"
    verdicts: list[Verdict] = []
    for completion, reference in zip(completions, refs):
        started = time.perf_counter()
        try:
            verdict = score_completion(completion, reference_text(reference), p)
        except ValueError as exc:
            verdict = Verdict.failed(Status.invalid_input, str(exc))
        except Exception as exc:  # noqa: BLE001 - errors are values
            verdict = Verdict.failed(Status.error, f"{type(exc).__name__}: {str(exc)[:300]}")
        verdict.verifier = spec
        verdict.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        verdicts.append(verdict)
    return verdicts
