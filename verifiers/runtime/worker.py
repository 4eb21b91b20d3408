"""The worker side: `run_task` runs one Task against a registry; `worker_main` is a pool worker.

`run_task` is the only way a task is executed, by the pool's worker processes here and by any
other host's worker: it never raises, and what it returns has passed `finalize`. A task whose
verifier or registry fingerprint this process does not hold is answered with `error` naming
what is missing, so a worker never dies of a stranger's task.

Wire format between the pool and a worker process (frames of orjson, see `transport`):
  chunk  = [[slot, task_plain], ...]          parent -> worker; `null` asks the worker to exit
  reply  = [[slot, elapsed_ms], ...]          worker -> parent, then for each slot a newline and
           "\n" verdict_fields ...            its verdict's JSON (the parent may pass it on
                                              undecoded); flushed every FLUSH_EVERY_S and at the
                                              chunk's end, so the parent always knows, within
                                              FLUSH_EVERY_S, which task a worker is on.
"""

from __future__ import annotations

import asyncio
import pickle
import resource
import signal
import socket
import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from verifiers.asyncbridge import run_blocking
from verifiers.base import Context, Verifier
from verifiers.contract import Status, Verdict
from verifiers.registry import Registry, UnknownVerifierError, default_registry
from verifiers.runtime.finalize import finalize
from verifiers.runtime.task import Task
from verifiers.runtime.transport import recv_frame, send_frame
from verifiers.validation import first_error

FLUSH_EVERY_S = 0.002
ASYNC_GRACE_S = 0.25


class ParamsCache:
    """Most tasks of a batch share their params: validate each distinct set once per process."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._models: dict[tuple[str, bytes], BaseModel] = {}

    def get(self, verifier: Verifier, raw: dict[str, Any]) -> BaseModel:
        if not raw:
            return verifier.parse_params(raw)
        key = (verifier.spec, orjson.dumps(raw, option=orjson.OPT_SORT_KEYS, default=str))
        model = self._models.get(key)
        if model is None:
            if len(self._models) > 10_000:
                self._models.clear()
            model = self._models[key] = verifier.parse_params(raw)
        return model


def run_task(task: Task, registry: Registry, params_cache: ParamsCache | None = None) -> Verdict:
    """Score one task here and now; always returns a finalized verdict, never raises."""
    started = time.perf_counter()
    if task.fingerprint != registry.fingerprint:
        return _refused(task, f"this worker's registry ({registry.fingerprint}) is not the one the task "
                              f"was checked against ({task.fingerprint}); the task needs {task.spec}", started)
    try:
        verifier = registry.resolve(task.spec)
    except UnknownVerifierError as exc:
        return _refused(task, f"this worker cannot run {task.spec}: {exc}", started)
    try:
        params = params_cache.get(verifier, task.params) if params_cache else verifier.parse_params(task.params)
    except ValidationError as exc:
        return _refused(task, f"bad params for {verifier.spec}: {first_error(exc, 'params')}", started)
    ctx = Context(registry=registry, deadline=time.monotonic() + task.timeout_s)
    if task.kind == "vote":
        result = call_vote(verifier, task.reference, params, ctx)
    else:
        result = call_verifier(verifier, task.text, task.reference, params, ctx)
    return finalize(result, verifier.spec, (time.perf_counter() - started) * 1000)


def call_vote(verifier: Verifier, completions: Any, params: BaseModel, ctx: Context) -> object:
    if not isinstance(completions, list) or not all(isinstance(c, str) for c in completions):
        return Verdict.failed(Status.error, "a vote task's reference must be the list of completion texts")
    try:
        return verifier.vote(completions, params, ctx)
    except (Exception, SystemExit) as exc:
        return crashed(verifier.spec, exc)


async def arun_task(task: Task, registry: Registry) -> Verdict:
    """`run_task` for an async (I/O-bound) verifier, on the current event loop, cut off at the
    task's budget; never raises."""
    started = time.perf_counter()
    try:
        verifier = registry.resolve(task.spec)
    except UnknownVerifierError as exc:
        return _refused(task, f"cannot run {task.spec}: {exc}", started)
    if not verifier.is_async:
        return run_task(task, registry)
    try:
        params = verifier.parse_params(task.params)
    except ValidationError as exc:
        return _refused(task, f"bad params for {verifier.spec}: {first_error(exc, 'params')}", started)
    ctx = Context(registry=registry, deadline=time.monotonic() + task.timeout_s)
    try:
        # a moment of grace past the deadline, so a verifier that keeps it reports its own reason
        result: object = await asyncio.wait_for(verifier.averify(task.text, task.reference, params, ctx),
                                                task.timeout_s + ASYNC_GRACE_S)
    except asyncio.TimeoutError:
        result = Verdict.failed(Status.timeout, f"verifier ran past its deadline of {task.timeout_s:g}s")
    except Exception as exc:
        result = crashed(verifier.spec, exc)
    return finalize(result, verifier.spec, (time.perf_counter() - started) * 1000)


def call_verifier(verifier: Verifier, text: str, reference: Any, params: BaseModel, ctx: Context) -> object:
    """What the verifier returned, or an `error` verdict for what it raised."""
    try:
        if verifier.is_async:  # only when no event loop is at hand (a worker, plain Python)
            return run_blocking(lambda: verifier.averify(text, reference, params, ctx))
        return verifier.verify(text, reference, params, ctx)
    except (Exception, SystemExit) as exc:  # errors are values at this boundary
        return crashed(verifier.spec, exc)


def crashed(spec: str, exc: BaseException) -> Verdict:
    return Verdict.failed(Status.error, f"{spec} raised {type(exc).__name__}: {str(exc)[:500]}")


def _refused(task: Task, message: str, started: float) -> Verdict:
    return finalize(Verdict.failed(Status.error, message), task.spec, (time.perf_counter() - started) * 1000)


def verdict_fields(verdict: Verdict) -> dict[str, Any]:
    return verdict.__dict__


def verdict_from_fields(fields: dict[str, Any]) -> Verdict:
    """Rebuild a Verdict that passed `finalize` on the other side: no validation (5-10x cheaper)."""
    fields["status"] = Status(fields["status"])
    verdict = Verdict.__new__(Verdict)
    object.__setattr__(verdict, "__dict__", fields)
    object.__setattr__(verdict, "__pydantic_fields_set__", set(fields))
    object.__setattr__(verdict, "__pydantic_extra__", None)
    object.__setattr__(verdict, "__pydantic_private__", None)
    return verdict


def _encode_replies(out: list[tuple[int, Verdict]]) -> bytes:
    """The head `[[slot, elapsed_ms], ...]`, then each verdict's JSON on a line of its own: the
    parent reads the head and can pass the verdicts on without decoding them."""
    head: list[tuple[int, float]] = []
    lines = [b""]
    for slot, verdict in out:
        try:
            line = orjson.dumps(verdict_fields(verdict))
        except TypeError as exc:  # cannot happen after finalize; but a worker must never die of it
            verdict = finalize(Verdict.failed(Status.error, f"verdict could not be encoded: {exc}"),
                               verdict.verifier or "?", verdict.elapsed_ms)
            line = orjson.dumps(verdict_fields(verdict))
        head.append((slot, verdict.elapsed_ms))
        lines.append(line)
    lines[0] = orjson.dumps(head)
    return b"\n".join(lines)  # compact JSON never holds a raw newline


def run_tasks(tasks: Sequence[Task], registry: Registry,
              params_cache: ParamsCache | None = None) -> Iterator[tuple[int, Verdict]]:
    """(index, verdict) for every task, in order, each as soon as it is known; never raises.

    Consecutive tasks of a batchable verifier (one with `verify_batch`, like the sandboxed Python
    verifier) are handed over together, so its per-batch cost is paid once for many items.
    """
    index = 0
    while index < len(tasks):
        verifier = _batchable(tasks[index], registry)
        if verifier is None:
            yield index, run_task(tasks[index], registry, params_cache)
            index += 1
            continue
        end = index + 1
        while (end < len(tasks) and end - index < verifier.batch_size and tasks[end].spec == tasks[index].spec
               and tasks[end].fingerprint == tasks[index].fingerprint):
            end += 1
        verdicts = _run_batch(verifier, tasks[index:end], registry, params_cache)
        for offset, verdict in enumerate(verdicts):
            yield index + offset, verdict
        index += len(verdicts)  # at least one; the rest go again with a fresh deadline


def _batchable(task: Task, registry: Registry) -> Verifier | None:
    if task.kind != "verify" or task.fingerprint != registry.fingerprint:
        return None
    try:
        verifier = registry.resolve(task.spec)
    except UnknownVerifierError:
        return None
    return verifier if verifier.batch_size > 1 else None


def _run_batch(verifier: Verifier, tasks: Sequence[Task], registry: Registry,
               params_cache: ParamsCache | None) -> list[Verdict]:
    """Verdicts for a prefix (at least one) of `tasks`, all of one batchable verifier."""
    started = time.perf_counter()
    try:
        params = [params_cache.get(verifier, t.params) if params_cache else verifier.parse_params(t.params)
                  for t in tasks]
    except ValidationError:
        return [run_task(tasks[0], registry, params_cache)]  # it reports its own bad params
    ctx = Context(registry=registry, deadline=time.monotonic() + min(t.timeout_s for t in tasks))
    try:
        results: list[object] = list(verifier.verify_batch(  # type: ignore[attr-defined]
            [(t.text, t.reference, p) for t, p in zip(tasks, params)], ctx))
        if not results or len(results) > len(tasks):
            raise TypeError(f"verify_batch answered {len(results)} verdicts for {len(tasks)} tasks")
    except Exception as exc:  # errors are values at this boundary
        results = [crashed(verifier.spec, exc)]
    share = (time.perf_counter() - started) * 1000 / len(results)
    return [finalize(r, verifier.spec, float(getattr(r, "details", {}).get("sandbox_ms", share))
                     if isinstance(getattr(r, "details", None), dict) else share) for r in results]


def worker_main(sock: socket.socket, memory_limit_bytes: int | None, registry_blob: bytes | None,
                verifier_store: str | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    sock.setblocking(True)
    # The server's registry (pickled) when it is not the default one this process already holds.
    registry = pickle.loads(registry_blob) if registry_blob is not None else default_registry()
    # Runtime-registered verifiers: applied from the store now, and again whenever a task names
    # a registry this worker does not hold yet (registered or retired since).
    runtime_verifiers = None
    if verifier_store:
        from verifiers.custom.catalog import RuntimeVerifiers
        from verifiers.custom.store import open_store

        runtime_verifiers = RuntimeVerifiers(registry, open_store(verifier_store))
        runtime_verifiers.sync()
    if memory_limit_bytes:
        # A runaway verifier gets MemoryError (an `error` verdict) instead of starving the host.
        # Soft limit only: it guards against bugs in trusted verifier code, and programs that a
        # verifier starts (sandboxes, compilers, JVMs) set limits of their own.
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, hard))
    params_cache = ParamsCache(registry)
    while True:
        try:
            frame = recv_frame(sock)
        except OSError:
            return
        if frame is None:
            return
        chunk = orjson.loads(frame)
        if chunk is None:
            return
        out: list[tuple[int, Verdict]] = []
        ready: dict[int, Verdict] = {}
        tasks: list[Task] = []
        positions: list[int] = []
        for index, (slot, plain) in enumerate(chunk):
            try:
                tasks.append(Task.from_plain(plain))
                positions.append(index)
            except ValueError as exc:
                ready[index] = finalize(Verdict.failed(Status.error, str(exc)), str(plain.get("spec", "?")), 0.0)
        if runtime_verifiers is not None and any(t.fingerprint != registry.fingerprint for t in tasks):
            try:
                runtime_verifiers.sync()
            except Exception:  # an unreadable store: the tasks are answered `error` by run_task
                pass
        sent, last_flush = 0, time.monotonic()
        for job_index, verdict in run_tasks(tasks, registry, params_cache):
            ready[positions[job_index]] = verdict
            while sent < len(chunk) and sent in ready:  # replies keep the chunk's order
                out.append((chunk[sent][0], ready.pop(sent)))
                sent += 1
            now = time.monotonic()
            if out and now - last_flush >= FLUSH_EVERY_S:
                send_frame(sock, _encode_replies(out))
                out, last_flush = [], now
        while sent < len(chunk) and sent in ready:
            out.append((chunk[sent][0], ready.pop(sent)))
            sent += 1
        if out:
            send_frame(sock, _encode_replies(out))


def preload() -> None:
    """Imported once in the fork server so that every worker starts with the registry warm."""
    default_registry()
