"""The loop a pool worker process runs: receive a chunk of jobs, stream back verdicts.

Wire format (kept to plain tuples and dicts: pickling pydantic models costs ~10x more):
  chunk  = [(slot, spec, text, reference, params_dict, timeout_s), ...]
  reply  = [(slot, verdict_fields_dict), ...]   flushed every FLUSH_EVERY_S or at chunk end,
so the parent always knows, within FLUSH_EVERY_S, which job a worker is on.
"""

from __future__ import annotations

import resource
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from verifiers.batching import score_jobs
from verifiers.contract import Status, Verdict
from verifiers.custom.catalog import RuntimeVerifiers
from verifiers.custom.store import FileStore
from verifiers.registry import Registry, UnknownVerifierError, default_registry
from verifiers.scoring import Job

FLUSH_EVERY_S = 0.002

WireJob = tuple[int, str, str, Any, dict[str, Any], float]


def to_wire(slot: int, job: Job, timeout_s: float) -> WireJob:
    return (slot, job.spec, job.text, job.reference, job.raw_params, timeout_s)


class _ParamsCache:
    """Most jobs of a batch share their params: validate each distinct set once per process."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._models: dict[tuple[str, bytes], BaseModel] = {}

    def get(self, spec: str, raw: dict[str, Any]) -> BaseModel:
        key = (spec, orjson.dumps(raw, option=orjson.OPT_SORT_KEYS, default=str))
        model = self._models.get(key)
        if model is None:
            if len(self._models) > 10_000:
                self._models.clear()
            model = self._models[key] = self.registry.resolve(spec).parse_params(raw)
        return model


def worker_main(conn: Connection, memory_limit_bytes: int | None, verifier_store: str | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    if memory_limit_bytes:
        # A runaway verifier gets MemoryError (an `error` verdict) instead of starving the host.
        # Soft limit only: it guards against bugs in trusted verifier code, and programs that a
        # verifier starts (sandboxes, compilers, JVMs) set limits of their own.
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, hard))
    registry = default_registry()
    runtime_verifiers = RuntimeVerifiers(registry, FileStore(verifier_store)) if verifier_store else None
    if runtime_verifiers is not None:
        runtime_verifiers.sync()
    params_cache = _ParamsCache(registry)
    while True:
        try:
            chunk: list[WireJob] | None = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        if runtime_verifiers is not None and any(spec not in registry for spec in {job[1] for job in chunk}):
            runtime_verifiers.sync()  # registered (or retired) since this worker last looked
        _run_chunk(conn, chunk, registry, params_cache)


def _run_chunk(conn: Connection, chunk: list[WireJob], registry: Registry, params_cache: _ParamsCache) -> None:
    """Score a chunk, sending verdicts back in chunk order, flushed every FLUSH_EVERY_S."""
    ready: dict[int, Verdict] = {}
    jobs: list[Job] = []
    positions: list[int] = []
    timeouts: list[float] = []
    for index, (_, spec, text, reference, raw_params, timeout_s) in enumerate(chunk):
        try:
            params = params_cache.get(spec, raw_params)
        except (UnknownVerifierError, ValidationError, ValueError) as exc:
            ready[index] = Verdict.failed(Status.error, f"this worker cannot run {spec}: {str(exc)[:500]}", verifier=spec)
            continue
        jobs.append(Job(spec, text, reference, params, raw_params))
        positions.append(index)
        timeouts.append(timeout_s)
    out: list[tuple[int, dict[str, Any]]] = []
    sent = 0
    last_flush = time.monotonic()

    def drain() -> None:
        nonlocal sent
        while sent < len(chunk) and sent in ready:
            out.append((chunk[sent][0], dict(ready.pop(sent))))
            sent += 1

    drain()
    for job_index, verdict in score_jobs(jobs, registry, timeouts):
        ready[positions[job_index]] = verdict
        drain()
        now = time.monotonic()
        if out and now - last_flush >= FLUSH_EVERY_S:
            conn.send(out)
            out, last_flush = [], now
    drain()
    if out:
        conn.send(out)


def preload() -> None:
    """Imported once in the fork server so that every worker starts with the registry warm."""
    default_registry()
