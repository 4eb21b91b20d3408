"""Scoring helpers for the judge tests: the same path the service takes (`prepare`, then
`ascore_prepared` on an event loop)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from verifiers import Item, Registry, Verdict
from verifiers.base import Context
from verifiers.judge import JudgeConfig, JudgeVerifier
from verifiers.scoring import ascore_prepared, prepare


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
        ctx = Context(registry=registry, deadline=time.monotonic() + timeout_s)
        jobs = [prepare(Item(verifier="judge", completion=c, reference=r, params=p), registry) for c, r, p in items]
        try:
            return list(await asyncio.gather(*(
                _done(job) if isinstance(job, Verdict) else ascore_prepared(job, ctx) for job in jobs)))
        finally:
            for client in verifier._clients.values():
                await client.aclose()

    return asyncio.run(run())


async def _done(verdict: Verdict) -> Verdict:
    return verdict
