"""One program against N tests: compiled once, every test in a fresh isolated run.

Three kinds of test:
  * `StdioTest`: feed stdin, compare stdout (exact, per line, tokens, or with float tolerance);
  * `CallTest` (Python): call a named function with JSON arguments, compare its JSON result;
  * `AssertTest` (Python): a HumanEval/MBPP-style test script. It runs in a trusted process
    beside the program, which only answers its calls with plain data (see `sandbox/harness.py`);
    that process alone writes the verdict, so nothing the program does (exiting early, patching
    builtins, an `__eq__` that is always true, walking its own stack) can make a test pass.
Pass/fail is decided here, in the trusted parent, from what the run produced; expected values
never enter the program's process.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from sandbox import cpp_bridge, java_bridge, pch, rust_bridge
from sandbox.compare import CompareMode, clip, first_difference, outputs_match, values_match
from sandbox.limits import Limits
from sandbox.result import ExecResult, ExecStatus
from sandbox.session import Sandbox, shared_sandbox
from sandbox.testcode import SHAPES, passed_marker


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
    tolerance: float | None = Field(None, ge=0, description="accept a float for an expected int within this "
                                    "(abs or rel); unset, ints compare exactly and floats use the run's tolerance")


class AssertTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["assert"] = "assert"
    script: str
    entry_point: str | None = Field(None, description="if set, `check(<entry_point>)` is called after the script")


class CodeTest(BaseModel):
    """Test code from the reference, in the program's language, built with it (sandbox/testcode.py)."""
    model_config = ConfigDict(extra="forbid")
    kind: Literal["code"] = "code"
    test_code: str
    declaration: str | None = Field(None, description="what the test code is built against (HumanEval-X's "
                                    "`declaration`): with it, C++, Java and Rust test code runs apart from the program")


TestCase = Annotated[Union[StdioTest, CallTest, AssertTest, CodeTest], Field(discriminator="kind")]


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
        if values_match(test.expected, reported["value"], options.float_tolerance, test.tolerance):
            return True, None, None
        return False, "wrong return value", {"expected": clip(json.dumps(test.expected)),
                                             "got": clip(json.dumps(reported["value"]))}
    if isinstance(reported, dict) and reported.get("passed") is True:
        return True, None, None
    reason = reported.get("reason") if isinstance(reported, dict) else None
    return False, str(reason or "the test script did not run to completion"), None


def run_tests(language: str, source: str, tests: list[TestCase] | list[dict], options: RunOptions | None = None, *,
              files: dict[str, str] | None = None, sandbox: Sandbox | None = None,
              deadline: float | None = None) -> TestReport:
    """Run `source` against `tests`. `deadline` (time.monotonic clock) bounds the whole call."""
    options = options or RunOptions()
    parsed = [t if isinstance(t, BaseModel) else _parse_test(t) for t in tests]
    if language == "python":  # Python test code runs in the trusted test process, as an assert test
        parsed = [AssertTest(script=t.test_code) if isinstance(t, CodeTest) else t for t in parsed]
    selected = _select(parsed, options)
    report = TestReport(total=len(selected))
    if not selected:
        return report
    box = sandbox or shared_sandbox()
    code_tests = [(i, t) for i, t in selected if isinstance(t, CodeTest)]
    if code_tests:
        if len(code_tests) != len(selected):
            raise ValueError("test code cannot be mixed with other kinds of test")
        return _run_code_tests(language, source, code_tests, options, box, deadline, files, report)
    needs_python = any(not isinstance(t, StdioTest) for _, t in selected)
    with box.program(language, source, files=files, limits=options.limits, deadline=deadline) as prog:
        if needs_python and (prog.lang is None or not prog.lang.warm_python):
            raise ValueError("function-call and assert tests need language python")
        report.compile = prog.compile_result
        if prog.compile_result is not None and not prog.compile_result.ok:
            report.status = prog.compile_result.status
            return report
        for index, test in selected:
            limits = _limits_before(deadline, options.limits)
            if limits is None:
                report.results.append(_not_run(index))
                continue
            nonce = secrets.token_hex(16)
            harness = _harness(test, nonce)
            stdin = test.stdin if isinstance(test, StdioTest) else ""
            test_files = test.files if isinstance(test, StdioTest) else None
            trusted = {"script": test.script, "entry_point": test.entry_point} if isinstance(test, AssertTest) else None
            result, channel = prog.run_raw(stdin=stdin, files=test_files, limits=limits, harness=harness,
                                           test=trusted)
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


def _limits_before(deadline: float | None, limits: Limits) -> Limits | None:
    """`limits` cut to what is left before `deadline`; None when nothing is left."""
    if deadline is None:
        return limits
    remaining = deadline - time.monotonic()
    if remaining <= 0.05:
        return None
    if remaining < limits.wall_time_s:
        return limits.model_copy(update={"wall_time_s": remaining, "cpu_time_s": min(limits.cpu_time_s, remaining)})
    return limits


def _not_run(index: int) -> TestResult:
    return TestResult(index=index, passed=False, status=ExecStatus.timeout, reason="not run: the overall deadline passed")


def _run_code_tests(language: str, source: str, tests: list[tuple[int, CodeTest]], options: RunOptions, box: Sandbox,
                    deadline: float | None, files: dict[str, str] | None, report: TestReport) -> TestReport:
    """Each test's code runs once against the program: in a trusted test process of its own
    (JavaScript; C++, Java and Rust with a declaration: `_BRIDGES`) or built into the program
    (sandbox/testcode.py)."""
    shape = SHAPES.get(language)
    if shape is None:
        raise ValueError(f"test code is not supported for {language}")
    for index, test in tests:
        bridged = None
        if language in _BRIDGES and test.declaration:
            if not box.alive:
                box.start()  # binds the compiler caches' directory (see `Sandbox.pch_bound`)
            bridged = _BRIDGES[language](source, test, box, options.limits, deadline)
        if bridged is not None:  # the test apart from the program, built against the declaration
            run_language, combined, trusted = bridged
            if trusted.get("build"):
                box.prebuild_test(trusted, options.limits)  # the test builds while the program compiles
        else:
            run_language, combined = shape.build(source, test.test_code)
            trusted = shape.trusted_test(test.test_code) if shape.trusted_test is not None else None
        with box.program(run_language, combined, files=files, limits=options.limits, deadline=deadline) as prog:
            report.compile = prog.compile_result
            if prog.compile_result is not None and not prog.compile_result.ok:
                if len(tests) == 1:  # the program (with its tests) does not build: nothing ran
                    report.status = prog.compile_result.status
                    return report
                report.results.append(TestResult(index=index, passed=False, status=prog.compile_result.status,
                                                 reason="does not compile with this test code",
                                                 stderr=clip(prog.compile_result.stderr, 500)))
                continue
            limits = _limits_before(deadline, options.limits)
            if limits is None:
                report.results.append(_not_run(index))
                continue
            if trusted is not None:  # decided by the trusted test process
                result, channel = prog.run_raw(limits=limits, harness={"mode": "assert"}, test=trusted)
                passed, reason, _ = _judge(AssertTest(script=test.test_code), result, channel, "", options)
                if _test_error(channel):  # the reference's test does not build: not the program's fault
                    result = result.model_copy(update={"status": ExecStatus.sandbox_error})
            else:
                token = secrets.token_hex(16)
                result = prog.run(stdin=token + "\n", limits=limits)
                passed = result.status is ExecStatus.ok and passed_marker(result.stdout, token)
                reason = None if passed else (result.message or (
                    "the tests did not run to their end" if result.status is ExecStatus.ok else result.status.value))
        report.results.append(TestResult(
            index=index, passed=passed, status=result.status, reason=reason, wall_ms=round(result.wall_ms, 3),
            cpu_ms=round(result.cpu_ms, 3), stderr=clip(result.stderr, 500) if (result.stderr and not passed) else None))
        report.passed += passed
        if result.status is ExecStatus.sandbox_error and len(report.results) == 1:
            report.status = ExecStatus.sandbox_error
        if not passed and options.stop_on_first_failure:
            break
    return report


def _cpp_bridged(source: str, test: CodeTest, box: Sandbox, limits: Limits,
                 deadline: float | None) -> tuple[str, str, dict] | None:
    """(language entry, program source, trusted test frame) for C++ test code run apart from the
    program (sandbox/cpp_bridge.py), or None when the declaration cannot be bridged. `limits` and
    `deadline`: the runs' (for a bridge that sizes its test process or compiles it here: Java's)."""
    signature = cpp_bridge.entry_signature(test.declaration or "")
    if signature is None:
        return None
    runtime = pch.bridge_object(box.pch_bound)
    test_cpp = cpp_bridge.test_source(signature, test.test_code, runtime)
    return ("cpp+bridge", cpp_bridge.program_source(source, signature, runtime),
            cpp_bridge.test_frame(test_cpp, pch.compile_flags("pch", test_cpp, box.pch_bound), runtime))


def _java_bridged(source: str, test: CodeTest, box: Sandbox, limits: Limits,
                  deadline: float | None) -> tuple[str, str, dict] | None:
    """The same for Java (sandbox/java_bridge.py): the test compiled by the service's warm javac."""
    signature = java_bridge.entry_signature(test.declaration or "")
    if signature is None:
        return None
    test_java = java_bridge.test_source(signature, test.test_code)
    compile_s = limits.for_compile().within(None if deadline is None else deadline - time.monotonic()).wall_time_s
    frame = java_bridge.test_frame(test_java, test.test_code, box, limits.memory_mb, compile_s)
    return "java", java_bridge.program_source(source, signature), frame


def _rust_bridged(source: str, test: CodeTest, box: Sandbox, limits: Limits,
                  deadline: float | None) -> tuple[str, str, dict] | None:
    """The same for Rust (sandbox/rust_bridge.py)."""
    signature = rust_bridge.entry_signature(test.declaration or "")
    if signature is None:
        return None
    crate = pch.rust_bridge_crate(box.pch_bound)
    built = rust_bridge.test_source(signature, test.test_code, crate)
    if built is None:
        return None
    return ("rust+bridge" if crate else "rust+quick", rust_bridge.program_source(source, signature, crate),
            rust_bridge.test_frame(built))


# Languages whose test code, given a declaration, runs apart from the program (called with the
# sandbox started: the caches' directory it binds decides what the builds use).
_BRIDGES = {"cpp": _cpp_bridged, "java": _java_bridged, "rust": _rust_bridged}


def _test_error(channel: str) -> bool:
    """Did the trusted test process say the test itself is broken (it does not build)?"""
    try:
        verdict = json.loads(channel) if channel else None
    except ValueError:
        return False
    return isinstance(verdict, dict) and verdict.get("test_error") is True


def _harness(test: Any, nonce: str) -> dict | None:
    if isinstance(test, CallTest):
        return {"mode": "call", "fn": test.fn, "args": json.dumps(test.args), "nonce": nonce}
    if isinstance(test, AssertTest):  # the script itself goes to the trusted test process only
        return {"mode": "assert"}
    return None


_TEST_ADAPTER: TypeAdapter = TypeAdapter(TestCase)


def _parse_test(raw: dict) -> Any:
    return _TEST_ADAPTER.validate_python(raw)
