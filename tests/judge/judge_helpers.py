"""Scoring helpers for the judge tests: the same path the service takes (`prepare`, then
`arun_task` on an event loop)."""

from __future__ import annotations

import asyncio
from typing import Any

from verifiers import Item, Registry, Verdict
from verifiers.judge import JudgeConfig, JudgeVerifier
from verifiers.runtime import arun_task
from verifiers.runtime.prepare import prepare


def judge_config(base_url: str, name: str = "default", **kw: Any) -> JudgeConfig:
    kw.setdefault("model", "smollm2")
    kw.setdefault("backoff_initial_s", 0.05)
    kw.setdefault("backoff_max_s", 0.2)
    return JudgeConfig(name=name, base_url=base_url, **kw)


def score(verifier: JudgeVerifier, completion: Any, reference: Any = None, params: dict[str, Any] | None = None,
          timeout_s: float = 120.0) -> Verdict:
    """Score one item the way the service does: validate (`prepare`), then run on an event loop."""
    return score_many(verifier, [(completion, reference, params or {})], timeout_s)[0]


def score_many(verifier: JudgeVerifier, items: list[tuple[Any, Any, dict[str, Any]]],
               timeout_s: float = 120.0) -> list[Verdict]:
    registry = Registry([verifier])

    async def run() -> list[Verdict]:
        tasks = [prepare(Item(verifier="judge", completion=c, reference=r, params=p), registry, timeout_s)
                 for c, r, p in items]
        try:
            return list(await asyncio.gather(*(
                _done(task) if isinstance(task, Verdict) else arun_task(task, registry) for task in tasks)))
        finally:
            for client in verifier._clients.values():
                await client.aclose()

    return asyncio.run(run())


async def _done(verdict: Verdict) -> Verdict:
    return verdict
