"""Admission by staged validation: a registration goes live only if every stage passes.

Stages, in order (the first failure stops and names itself and its example):
  compile      the definition builds; Python source imports in the sandbox and defines `entry`
  golden       every accept example earns >= min_reward, every reject example <= max_reward
  determinism  a second run of every example gives the same status and reward
  time_budget  no example took longer than `time_budget_ms`
  probe        no known reward hack earns reward (except those listed in `probe.allow`)
Runs in the calling thread, before the verifier is live anywhere: the candidate is scored in this
process (Python source still only in the sandbox), against a copy of the live registry.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from verifiers.base import Verifier
from verifiers.batching import score_items
from verifiers.contract import Item, Status, Verdict, completion_text
from verifiers.custom.build import Spec, build_verifier, pinned
from verifiers.custom.python_verifier import SandboxedPythonVerifier
from verifiers.custom.spec import spec_adapter
from verifiers.probe import ProbeCase, judge, probe_items
from verifiers.registry import Registry, UnknownVerifierError

_JUDGED = (Status.ok, Status.wrong_format)
_REWARD_TOLERANCE = 1e-9


class StageResult(BaseModel):
    stage: str
    passed: bool
    ms: float
    message: str | None = None
    example: dict[str, Any] | None = Field(None, description='{"set": "accept" | "reject", "index": n}')


class AdmissionReport(BaseModel):
    admitted: bool
    spec: str
    source_hash: str
    failed_stage: str | None = None
    failed_example: dict[str, Any] | None = None
    message: str | None = None
    stages: list[StageResult] = Field(default_factory=list)
    probe: dict[str, Any] | None = None


class _Refused(Exception):
    def __init__(self, message: str, example: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.example = example


def _examples(spec: Spec) -> list[tuple[dict[str, Any], Item, float | None, float | None]]:
    """(where, item, min_reward, max_reward) for every golden example."""
    out = []
    for index, ex in enumerate(spec.accept):
        item = Item(verifier=spec.spec, completion=ex.completion, reference=ex.reference, params=ex.params)
        out.append(({"set": "accept", "index": index}, item, ex.min_reward, None))
    for index, ex in enumerate(spec.reject):
        item = Item(verifier=spec.spec, completion=ex.completion, reference=ex.reference, params=ex.params)
        out.append(({"set": "reject", "index": index}, item, None, ex.max_reward))
    return out


def _describe(verdict: Verdict) -> str:
    return f"status {verdict.status.value}, reward {verdict.reward:g}" + (f" ({verdict.message[:300]})"
                                                                       if verdict.message else "")


def probe_case(spec: Spec) -> ProbeCase:
    """The task a runtime verifier is probed on: its first accept example."""
    first = spec.accept[0]
    text = first.completion if isinstance(first.completion, str) else completion_text(first.completion)
    return ProbeCase(first.reference, text, first.params, spec.probe.prompt)


class Admission:
    """One admission attempt of one spec against the live registry."""

    def __init__(self, spec: Spec, live: Registry, on_stage: Callable[[str], None] | None = None) -> None:
        self.spec = spec
        self.live = live
        self.on_stage = on_stage
        self.report = AdmissionReport(admitted=False, spec=spec.spec, source_hash=spec.source_hash)
        self.candidate: Verifier | None = None
        self.registry: Registry | None = None
        self._first_run: list[Verdict] = []
        self._second_run: list[Verdict] = []

    @property
    def item_timeout_s(self) -> float:
        return max(2.0, 5 * self.spec.time_budget_ms / 1000 + 1.0)

    def run(self) -> AdmissionReport:
        stages = [("compile", self._compile), ("golden", self._golden), ("determinism", self._determinism),
                  ("time_budget", self._time_budget), ("probe", self._probe)]
        try:
            for name, stage in stages:
                if self.on_stage is not None:
                    self.on_stage(name)
                started = time.perf_counter()
                try:
                    message = stage()
                except _Refused as refused:
                    ms = round((time.perf_counter() - started) * 1000, 1)
                    self.report.stages.append(StageResult(stage=name, passed=False, ms=ms, message=str(refused),
                                                          example=refused.example))
                    self.report.failed_stage, self.report.failed_example = name, refused.example
                    where = f" on {refused.example['set']} example {refused.example['index']}" if refused.example else ""
                    self.report.message = f"refused at stage {name}{where}: {refused}"
                    return self.report
                ms = round((time.perf_counter() - started) * 1000, 1)
                self.report.stages.append(StageResult(stage=name, passed=True, ms=ms, message=message))
            self.report.admitted = True
            return self.report
        finally:
            release = getattr(self.candidate, "release", None)
            if release is not None:
                release()  # the candidate's warm sandbox in this thread; workers start their own

    def _compile(self) -> str | None:
        try:
            self.spec = pinned(self.spec, self.live)
            self.candidate = build_verifier(self.spec, self.live)
        except (UnknownVerifierError, ValueError, ValidationError) as exc:
            raise _Refused(str(exc)) from None
        if isinstance(self.candidate, SandboxedPythonVerifier):
            problem = self.candidate.check_source(timeout_s=max(5.0, self.spec.time_budget_ms / 1000 * 5))
            if problem:
                raise _Refused(problem)
        self.registry = Registry(self.live.all())
        self.registry.register(self.candidate)
        return None

    def _score_examples(self) -> list[Verdict]:
        assert self.registry is not None
        return score_items([item for _, item, _, _ in _examples(self.spec)], self.registry, self.item_timeout_s)

    def _golden(self) -> str:
        self._first_run = self._score_examples()
        for (where, _, min_reward, max_reward), verdict in zip(_examples(self.spec), self._first_run):
            if verdict.status not in _JUDGED:
                raise _Refused(f"the example was not judged: {_describe(verdict)}", where)
            if min_reward is not None and verdict.reward < min_reward:
                raise _Refused(f"reward {verdict.reward:g} is below min_reward {min_reward:g} ({_describe(verdict)})",
                               where)
            if max_reward is not None and verdict.reward > max_reward:
                raise _Refused(f"reward {verdict.reward:g} is above max_reward {max_reward:g} ({_describe(verdict)})",
                               where)
        return f"{len(self._first_run)} examples passed"

    def _determinism(self) -> str:
        self._second_run = self._score_examples()
        for (where, *_), first, second in zip(_examples(self.spec), self._first_run, self._second_run):
            if first.status != second.status or abs(first.reward - second.reward) > _REWARD_TOLERANCE:
                raise _Refused(f"two runs disagree: {_describe(first)}, then {_describe(second)}", where)
        return "every example scored the same twice"

    def _time_budget(self) -> str:
        budget = self.spec.time_budget_ms
        slowest = 0.0
        for (where, *_), first, second in zip(_examples(self.spec), self._first_run, self._second_run):
            took = max(first.elapsed_ms, second.elapsed_ms)
            slowest = max(slowest, took)
            if took > budget:
                raise _Refused(f"took {took:.1f} ms, over the time budget of {budget:g} ms", where)
        return f"slowest example {slowest:.1f} ms of {budget:g} ms"

    def _probe(self) -> str:
        assert self.registry is not None and self.candidate is not None
        self.candidate.probe_case = probe_case(self.spec)  # type: ignore[attr-defined]
        planned = probe_items(self.candidate, self.registry)
        verdicts = [score_items(items, self.registry, self.item_timeout_s) for _, _, items in planned]
        report = judge(self.spec.spec, planned, verdicts, frozenset(self.spec.probe.allow))
        self.report.probe = report
        if report["gameable"]:
            raise _Refused(f"the hack probe earned reward with: {', '.join(report['earned'])} "
                           "(list a hack in probe.allow if the verifier rewards it by design)")
        allowed = [row["hack"] for case in report["cases"] for row in case["hacks"] if row.get("allowed")]
        return "no hack earned reward" + (f" except allowed {allowed}" if allowed else "")


def admit(spec: Spec, live: Registry, on_stage: Callable[[str], None] | None = None,
          ) -> tuple[AdmissionReport, Spec, Verifier | None]:
    """Run every stage: (report, pinned spec, the verifier to go live, or None when refused)."""
    admission = Admission(spec, live, on_stage)
    report = admission.run()
    return report, admission.spec, admission.candidate if report.admitted else None


def admit_in_subprocess(spec: Spec, store_location: str, timeout_s: float) -> tuple[AdmissionReport, Spec]:
    """`admit` in a child process holding the default registry plus the stored registrations,
    killed at `timeout_s`: a candidate that hangs a built-in verifier cannot hang the server.
    Returns (report, pinned spec); the caller builds the verifier from the pinned spec."""
    ctx = mp.get_context("forkserver")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_admission_child, args=(child, spec.model_dump(mode="json"), store_location),
                          daemon=True, name="referee-admission")
    process.start()
    child.close()
    deadline, stage = time.monotonic() + timeout_s, "compile"
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not parent.poll(remaining):
                break
            try:
                kind, payload = parent.recv()
            except EOFError:
                break
            if kind == "stage":
                stage = payload
            else:
                report = AdmissionReport.model_validate(payload[0])
                return report, spec_adapter.validate_python(payload[1])
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        parent.close()
    over = time.monotonic() >= deadline
    why = f"admission ran past its deadline of {timeout_s:g} s" if over else \
        f"the admission process died (exit code {process.exitcode})"
    report = AdmissionReport(admitted=False, spec=spec.spec, source_hash=spec.source_hash, failed_stage=stage,
                             message=f"refused at stage {stage}: {why}",
                             stages=[StageResult(stage=stage, passed=False, ms=0.0, message=why)])
    return report, spec


def _admission_child(conn: Any, raw_spec: dict[str, Any], store_location: str) -> None:
    from verifiers.custom.catalog import RuntimeVerifiers
    from verifiers.custom.store import open_store
    from verifiers.registry import default_registry

    registry = default_registry()
    RuntimeVerifiers(registry, open_store(store_location)).sync()
    report, pinned, _ = admit(spec_adapter.validate_python(raw_spec), registry,
                              on_stage=lambda name: conn.send(("stage", name)))
    conn.send(("done", (report.model_dump(mode="json"), pinned.model_dump(mode="json"))))
    conn.close()
