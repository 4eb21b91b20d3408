"""One program against N tests: compiled once, every test in a fresh isolated run.

Three kinds of test:
  * `StdioTest`: feed stdin, compare stdout (exact, per line, tokens, or with float tolerance);
  * `CallTest` (Python): call a named function with JSON arguments, compare its JSON result;
  * `AssertTest` (Python): a HumanEval/MBPP-style test script run after the program; it passes
    only if the script ran to its end, so `sys.exit(0)` or `os._exit(0)` early cannot pass.
Pass/fail is decided here, in the trusted parent, from what the run produced; expected values
never enter the sandbox for stdio and call tests.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from sandbox.compare import CompareMode, clip, first_difference, outputs_match, values_match
from sandbox.limits import Limits
from sandbox.result import ExecResult, ExecStatus
from sandbox.session import Sandbox, shared_sandbox


class StdioTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["stdio"] = "stdio"
    stdin: str = ""
    expected_stdout: str
    files: dict[str, str] = Field(default_factory=dict)


class CallTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["call"] = "call"
    fn: str
    args: list[Any] = Field(default_factory=list)
    expected: Any = None


class AssertTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["assert"] = "assert"
    script: str
    entry_point: str | None = Field(None, description="if set, `check(<entry_point>)` is called after the script")


TestCase = Annotated[Union[StdioTest, CallTest, AssertTest], Field(discriminator="kind")]


class RunOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compare: CompareMode = "lines"
    float_tolerance: float = Field(1e-6, ge=0)
    stop_on_first_failure: bool = False
    sample: int | None = Field(None, ge=1, description="run only this many tests, chosen with `seed`")
    seed: int = 0
    limits: Limits = Field(default_factory=Limits)


class TestResult(BaseModel):
    index: int
    passed: bool
    status: ExecStatus
    reason: str | None = None
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    diff: dict[str, Any] | None = None
    stderr: str | None = None


class TestReport(BaseModel):
    compile: ExecResult | None = None
    results: list[TestResult] = Field(default_factory=list)
    total: int = 0  # tests selected (after sampling)
    passed: int = 0
    status: ExecStatus = ExecStatus.ok  # compile_error / sandbox_error when no test could run

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total


def _select(tests: list, options: RunOptions) -> list[tuple[int, Any]]:
    indexed = list(enumerate(tests))
    if options.sample is not None and options.sample < len(indexed):
        chosen = sorted(random.Random(options.seed).sample(range(len(indexed)), options.sample))
        indexed = [indexed[i] for i in chosen]
    return indexed


def _judge(test: Any, result: ExecResult, channel: str, nonce: str, options: RunOptions) -> tuple[bool, str | None, dict | None]:
    """(passed, reason, diff) for one finished run."""
    if result.status is not ExecStatus.ok:
        return False, result.message or result.status.value, None
    if isinstance(test, StdioTest):
        if outputs_match(test.expected_stdout, result.stdout, options.compare, options.float_tolerance):
            return True, None, None
        return False, "wrong output", first_difference(test.expected_stdout, result.stdout)
    try:
        reported = json.loads(channel) if channel else None
    except ValueError:
        reported = None
    if isinstance(test, CallTest):
        if not isinstance(reported, dict) or set(reported) != {"value", "done"} or reported["done"] != nonce:
            return False, "the function returned no result", None
        if values_match(test.expected, reported["value"], options.float_tolerance):
            return True, None, None
        return False, "wrong return value", {"expected": clip(json.dumps(test.expected)),
                                             "got": clip(json.dumps(reported["value"]))}
    if reported == {"done": nonce}:
        return True, None, None
    return False, "the test script did not run to completion", None


def run_tests(language: str, source: str, tests: list[TestCase] | list[dict], options: RunOptions | None = None, *,
              files: dict[str, str] | None = None, sandbox: Sandbox | None = None,
              deadline: float | None = None) -> TestReport:
    """Run `source` against `tests`. `deadline` (time.monotonic clock) bounds the whole call."""
    options = options or RunOptions()
    parsed = [t if isinstance(t, BaseModel) else _parse_test(t) for t in tests]
    selected = _select(parsed, options)
    report = TestReport(total=len(selected))
    if not selected:
        return report
    needs_python = any(not isinstance(t, StdioTest) for _, t in selected)
    box = sandbox or shared_sandbox()
    with box.program(language, source, files=files, limits=options.limits, deadline=deadline) as prog:
        if needs_python and (prog.lang is None or not prog.lang.warm_python):
            raise ValueError("function-call and assert tests need language python")
        report.compile = prog.compile_result
        if prog.compile_result is not None and not prog.compile_result.ok:
            report.status = prog.compile_result.status
            return report
        for index, test in selected:
            limits = options.limits
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0.05:
                    report.results.append(TestResult(index=index, passed=False, status=ExecStatus.timeout,
                                                     reason="not run: the overall deadline passed"))
                    continue
                if remaining < limits.wall_time_s:
                    limits = limits.model_copy(update={"wall_time_s": remaining,
                                                       "cpu_time_s": min(limits.cpu_time_s, remaining)})
            nonce = secrets.token_hex(16)
            harness = _harness(test, nonce)
            stdin = test.stdin if isinstance(test, StdioTest) else ""
            test_files = test.files if isinstance(test, StdioTest) else None
            result, channel = prog.run_raw(stdin=stdin, files=test_files, limits=limits, harness=harness)
            passed, reason, diff = _judge(test, result, channel, nonce, options)
            report.results.append(TestResult(
                index=index, passed=passed, status=result.status, reason=reason, wall_ms=round(result.wall_ms, 3),
                cpu_ms=round(result.cpu_ms, 3), diff=diff,
                stderr=clip(result.stderr, 500) if (result.stderr and not passed) else None))
            report.passed += passed
            if result.status is ExecStatus.sandbox_error and report.passed == 0 and len(report.results) == 1:
                report.status = ExecStatus.sandbox_error
            if not passed and options.stop_on_first_failure:
                break
    return report


def _harness(test: Any, nonce: str) -> dict | None:
    if isinstance(test, CallTest):
        return {"mode": "call", "fn": test.fn, "args": json.dumps(test.args), "nonce": nonce}
    if isinstance(test, AssertTest):
        return {"mode": "assert", "script": test.script, "entry_point": test.entry_point, "nonce": nonce}
    return None


_TEST_ADAPTER: TypeAdapter = TypeAdapter(TestCase)


def _parse_test(raw: dict) -> Any:
    return _TEST_ADAPTER.validate_python(raw)
