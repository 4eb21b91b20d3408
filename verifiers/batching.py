"""Scoring items in this thread, without a worker pool: for checks that run before a verifier is live."""

from __future__ import annotations

from collections.abc import Sequence

from verifiers.contract import Item, Verdict
from verifiers.registry import Registry
from verifiers.runtime.prepare import prepare
from verifiers.runtime.worker import run_tasks


def score_items(items: Sequence[Item], registry: Registry, timeout_s: float) -> list[Verdict]:
    """One verdict per item, in order; batchable verifiers get their items together."""
    verdicts: list[Verdict | None] = [None] * len(items)
    tasks, positions = [], []
    for index, item in enumerate(items):
        prepared = prepare(item, registry, timeout_s)
        if isinstance(prepared, Verdict):
            verdicts[index] = prepared
        else:
            tasks.append(prepared)
            positions.append(index)
    for task_index, verdict in run_tasks(tasks, registry):
        verdict.id = items[positions[task_index]].id
        verdicts[positions[task_index]] = verdict
    return verdicts  # type: ignore[return-value]
