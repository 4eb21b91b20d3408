"""A verifier written as Python source: `score(completion, reference, params)`, run in the sandbox.

The source never runs in a Referee process: each worker keeps a warm sandbox per verifier
(`sandbox.calls.FunctionHost`) that imports it once per batch and calls it once per item, each
call in a fork with its own time limit. What comes back is untrusted data and is checked here.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, model_validator

from sandbox.calls import CallOutcome, FunctionHost
from sandbox.limits import Limits
from verifiers.base import Context, Verifier
from verifiers.contract import Status, Verdict

MAX_DETAILS_BYTES = 32 << 10
WARM_HOSTS_PER_THREAD = 8  # each is a sandbox (~15 MB); the least recently used one is stopped
_DEADLINE_MARGIN_S = 0.25  # leave the worker time to build and return the verdicts
_RESULT_KEYS = frozenset({"reward", "details", "components", "status", "message"})


def _params_model(schema: dict[str, Any] | None) -> type[BaseModel]:
    """A params model holding any JSON object that `schema` (a JSON schema) accepts."""
    shown = schema or {"type": "object", "additionalProperties": True}
    validator = None
    if schema is not None:
        from jsonschema import validators

        validator = validators.validator_for(schema)(schema)

    class ScoreParams(BaseModel):
        model_config = ConfigDict(extra="allow")

        @model_validator(mode="before")
        @classmethod
        def _check(cls, data: Any) -> Any:
            error = next(iter(validator.iter_errors(data)), None) if validator is not None else None
            if error is not None:
                where = ".".join(str(p) for p in error.absolute_path)
                raise ValueError(f"{where + ': ' if where else ''}{error.message}")
            return data

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return shown

    return ScoreParams


class _WarmHosts:
    """This thread's warm hosts, by source hash, least recently used first."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, key: str, make: Any) -> FunctionHost:
        hosts: OrderedDict[str, FunctionHost] | None = getattr(self._local, "hosts", None)
        if hosts is None or getattr(self._local, "pid", None) != os.getpid():
            hosts = self._local.hosts = OrderedDict()
            self._local.pid = os.getpid()
        host = hosts.get(key)
        if host is None:
            host = hosts[key] = make()
            while len(hosts) > WARM_HOSTS_PER_THREAD:
                hosts.popitem(last=False)[1].close()
        hosts.move_to_end(key)
        return host

    def discard(self, key: str) -> None:
        hosts = getattr(self._local, "hosts", None)
        if hosts is not None and getattr(self._local, "pid", None) == os.getpid() and key in hosts:
            hosts.pop(key).close()


_warm_hosts = _WarmHosts()


class SandboxedPythonVerifier(Verifier):
    batch_size: ClassVar[int] = 64  # one sandbox run (and one import) per this many items

    def __init__(self, name: str, version: int, description: str, source: str, entry: str,
                 params_schema: dict[str, Any] | None, memory_mb: int, time_budget_ms: float, source_hash: str) -> None:
        self.name = name  # type: ignore[misc]
        self.version = version  # type: ignore[misc]
        self.description = description or f"Python verifier {entry}() ({source_hash[:19]})"  # type: ignore[misc]
        self.Params = _params_model(params_schema)  # type: ignore[misc]
        self.source, self.entry, self.params_schema = source, entry, params_schema
        self.limits = Limits(memory_mb=memory_mb, max_processes=16, cpu_time_s=60, wall_time_s=60)
        # A call is stopped well past what admission allowed it, or at the item's deadline.
        self.call_timeout_s = max(1.0, 5 * time_budget_ms / 1000)
        self.source_hash = source_hash

    def identity(self) -> str:
        return f"{type(self).__qualname__} {self.source_hash}"

    def config_key(self, params: BaseModel) -> str:
        return self.source_hash  # cached verdicts never outlive the definition that scored them

    def __reduce__(self) -> Any:  # the params model is built per instance: pickle the definition
        return (SandboxedPythonVerifier, (self.name, self.version, self.description, self.source, self.entry,
                                          self.params_schema, self.limits.memory_mb, self.call_timeout_s * 200,
                                          self.source_hash))

    @property
    def _host_key(self) -> str:
        return f"{self.source_hash}:{self.entry}:{self.limits.memory_mb}"

    def _host(self) -> FunctionHost:
        return _warm_hosts.get(self._host_key, lambda: FunctionHost(self.source, self.entry, limits=self.limits))

    def release(self) -> None:
        """Stop this thread's warm sandbox for this verifier (it starts again on the next use)."""
        _warm_hosts.discard(self._host_key)

    def check_source(self, timeout_s: float = 10.0) -> str | None:
        """Stage one of admission: the source imports and defines `entry` (None), or why not."""
        return self._host().check(timeout_s)

    def verify(self, completion: str, reference: Any, params: Any, ctx: Context) -> Verdict:
        return self.verify_batch([(completion, reference, params)], ctx)[0]

    def verify_batch(self, jobs: Sequence[tuple[str, Any, Any]], ctx: Context) -> list[Verdict]:
        """Verdicts for a prefix of `jobs` (at least one): the rest ran out of this call's time."""
        calls = [[text, reference, params.model_dump() if isinstance(params, BaseModel) else params]
                 for text, reference, params in jobs]
        deadline = ctx.deadline - _DEADLINE_MARGIN_S
        outcomes = self._host().call_many(calls, call_timeout_s=self.call_timeout_s, deadline=deadline)
        if not outcomes:
            return [Verdict.failed(Status.timeout, "the item's deadline passed before the verifier could run")]
        return [verdict_from_outcome(outcome) for outcome in outcomes]


def verdict_from_outcome(outcome: CallOutcome) -> Verdict:
    """Turn what the sandboxed call produced into a verdict; anything malformed is `error`."""
    timing = {"sandbox_ms": round(outcome.wall_ms, 3)}
    if outcome.status == "timeout":
        return Verdict.failed(Status.timeout, outcome.message or "timeout", details=timing)
    if outcome.status != "ok":
        details = timing | ({"output": outcome.output[-2000:]} if outcome.output else {})
        return Verdict.failed(Status.error, f"score failed: {outcome.message}"[:4000], details=details)
    value = outcome.value
    if isinstance(value, dict):
        return _verdict_from_mapping(value, timing)
    reward, problem = _reward(value)
    if problem:
        return Verdict.failed(Status.error, problem, details=timing)
    return Verdict.scored(reward, details=timing)


def _reward(value: Any) -> tuple[float, str | None]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = type(value).__name__ if value is not None else "None"
        return 0.0, f'score returned {kind}; expected a number or {{"reward": number, "details": {{...}}}}'
    reward = float(value)
    if not math.isfinite(reward):
        return 0.0, f"score returned a reward that is not finite ({reward})"
    return reward, None


def _verdict_from_mapping(value: dict[str, Any], timing: dict[str, Any]) -> Verdict:
    unknown = set(value) - _RESULT_KEYS
    if unknown or "reward" not in value:
        what = f"unknown keys {sorted(unknown)}" if unknown else "no 'reward'"
        return Verdict.failed(Status.error, f"score returned a dict with {what}; allowed: {sorted(_RESULT_KEYS)}",
                              details=timing)
    reward, problem = _reward(value["reward"])
    if problem:
        return Verdict.failed(Status.error, problem, details=timing)
    status = value.get("status", "ok")
    if status not in ("ok", "wrong_format"):
        return Verdict.failed(Status.error, f"score returned status {status!r}; allowed: 'ok', 'wrong_format'",
                              details=timing)
    details = value.get("details") or {}
    if not isinstance(details, dict):
        return Verdict.failed(Status.error, "score returned details that are not an object", details=timing)
    if len(orjson.dumps(details)) > MAX_DETAILS_BYTES:
        details = {"note": f"details over {MAX_DETAILS_BYTES} bytes were dropped"}
    components = value.get("components") or {}
    if not isinstance(components, dict) or any(_reward(v)[1] for v in components.values()):
        return Verdict.failed(Status.error, "score returned components that are not finite numbers", details=timing)
    message = value.get("message")
    return Verdict(reward=reward, status=Status(status), message=str(message)[:2000] if message is not None else None,
                   components={str(k): float(v) for k, v in components.items()}, details={**details, **timing})
