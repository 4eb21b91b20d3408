"""`code`: extract a program from the completion, run it against tests in the sandbox.

Reference shapes (normalised by `check_reference` into `{"language", "tests"}`):
  * `{"tests": [{"stdin": "1 2", "stdout": "3"}, ...]}` (also `input`/`output` keys)
  * `{"inputs": [...], "outputs": [...]}` (APPS/TACO style; with `fn_name`, each input is an
    argument list and each output the expected return value)
  * `{"fn_name": "add", "tests": [{"args": [1, 2], "expected": 3}, ...]}`
  * `{"test": "def check(candidate): ...", "entry_point": "add"}` (HumanEval)
  * `{"test_list": ["assert add(1, 2) == 3", ...]}` (MBPP; one test per assert), with an
    optional `test_setup` prepended to each
Any of them may carry `"language"`: the language expected when the code fence names none.

Each worker process talks to its own warm sandbox (`sandbox.shared_sandbox()`), started on
first use; the sandbox dies with the worker, so a worker killed on overrun takes it along.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox import ExecStatus, Limits, RunOptions, find_language, run_tests, shared_sandbox
from sandbox.compare import CompareMode, clip
from sandbox.languages import missing_toolchain
from verifiers.base import Context, Verifier
from verifiers.contract import Status, Verdict
from verifiers.text import after_reasoning

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
_DEADLINE_MARGIN_S = 0.25  # leave the worker time to build and return the verdict


@dataclass(frozen=True)
class CodeBlock:
    language: str | None  # canonical language name, or None for an untagged / unknown fence
    tag: str  # the fence's tag as written
    code: str


def extract_code_blocks(text: str) -> list[CodeBlock]:
    """Every fenced code block (``` or ~~~), in order, with the language named by its tag."""
    blocks = []
    for match in _FENCE.finditer(text):
        tag = match.group(2).strip().lower()
        lang = find_language(tag) if tag else None
        blocks.append(CodeBlock(language=lang.name if lang else None, tag=tag, code=match.group(3)))
    return blocks


def choose_block(blocks: list[CodeBlock], language: str | None) -> CodeBlock | None:
    """The last block in `language` (or untagged); without a language, the last block whose tag
    is a known language, else the last untagged one."""
    if language:
        wanted = [b for b in blocks if b.language == language or not b.tag]
        return wanted[-1] if wanted else None
    known = [b for b in blocks if b.language]
    if known:
        return known[-1]
    untagged = [b for b in blocks if not b.tag]
    return untagged[-1] if untagged else None


class CodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str | None = Field(None, description="force a language; else the fence's, else the reference's, else python")
    reward: Literal["fraction", "all_or_nothing"] = Field("fraction", description="pass fraction, or 1 only if all pass")
    compare: CompareMode = Field("lines", description="stdout comparison: exact, lines, tokens or float")
    float_tolerance: float = Field(1e-6, ge=0)
    stop_on_first_failure: bool | None = Field(None, description="default: true for all_or_nothing, else false")
    sample: int | None = Field(None, ge=1, description="run only this many tests (seeded choice)")
    seed: int = 0
    time_limit_s: float = Field(2.0, gt=0, le=60, description="CPU seconds per test")
    memory_mb: int = Field(512, ge=32, le=8192)
    require_fence: bool = Field(True, description="if false, an unfenced completion is taken as code")
    after_reasoning: bool = True
    max_details: int = Field(20, ge=0, description="per-test details listed (failures first)")


def _stdio(raw: dict) -> dict:
    stdin = raw.get("stdin", raw.get("input", ""))
    stdout = raw.get("stdout", raw.get("output", raw.get("expected_stdout")))
    if not isinstance(stdin, str) or not isinstance(stdout, str):
        raise ValueError("a stdin/stdout test needs string `stdin` (or `input`) and `stdout` (or `output`)")
    return {"kind": "stdio", "stdin": stdin, "expected_stdout": stdout}


def normalise_reference(reference: Any) -> dict:
    """The reference as `{"language": str | None, "tests": [test dicts]}`; ValueError if unusable."""
    if isinstance(reference, list):
        reference = {"tests": reference}
    if not isinstance(reference, dict):
        raise ValueError("reference must be an object with tests (see the `code` verifier's docs)")
    language = reference.get("language")
    if language is not None and (not isinstance(language, str) or find_language(language) is None):
        raise ValueError(f"unknown language {language!r}")
    fn = reference.get("fn_name")
    tests: list[dict] = []
    if "test" in reference:  # HumanEval
        if not isinstance(reference["test"], str):
            raise ValueError("`test` must be a test script")
        tests.append({"kind": "assert", "script": reference["test"], "entry_point": reference.get("entry_point")})
    if "test_list" in reference:  # MBPP
        setup = reference.get("test_setup") or reference.get("test_setup_code") or ""
        for line in reference["test_list"]:
            if not isinstance(line, str):
                raise ValueError("`test_list` must hold assert statements")
            tests.append({"kind": "assert", "script": f"{setup}\n{line}" if setup else line})
    if "inputs" in reference or "outputs" in reference:  # APPS / TACO
        inputs, outputs = reference.get("inputs"), reference.get("outputs")
        if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
            raise ValueError("`inputs` and `outputs` must be lists of the same length")
        for given, expected in zip(inputs, outputs):
            if fn:
                args = given if isinstance(given, list) else [given]
                want = expected[0] if isinstance(expected, list) and len(expected) == 1 else expected
                tests.append({"kind": "call", "fn": fn, "args": args, "expected": want})
            else:
                tests.append(_stdio({"stdin": given, "stdout": expected}))
    for raw in reference.get("tests") or []:
        if not isinstance(raw, dict):
            raise ValueError("each test must be an object")
        if "args" in raw or "expected" in raw:
            name = raw.get("fn", fn)
            if not isinstance(name, str):
                raise ValueError("a function-call test needs `fn_name` (or `fn`)")
            tests.append({"kind": "call", "fn": name, "args": list(raw.get("args") or []), "expected": raw.get("expected")})
        elif "script" in raw or "assert" in raw:
            tests.append({"kind": "assert", "script": raw.get("script", raw.get("assert")),
                          "entry_point": raw.get("entry_point")})
        else:
            tests.append(_stdio(raw))
    if not tests:
        raise ValueError("reference holds no tests")
    for test in tests:
        if test["kind"] == "assert":
            if not isinstance(test["script"], str):
                raise ValueError("a test script must be a string")
            try:  # a broken test script is the reference's fault, not the completion's
                compile(test["script"], "test.py", "exec")
            except (SyntaxError, ValueError) as exc:
                raise ValueError(f"test script does not parse: {exc}") from None
    return {"language": find_language(language).name if language else None, "tests": tests}


class CodeVerifier(Verifier):
    name = "code"
    version = 1
    description = "Runs the completion's code against tests in an isolated sandbox (stdin/stdout, function calls, asserts)."
    Params = CodeParams

    def check_reference(self, reference: Any, params: CodeParams) -> Any:
        return normalise_reference(reference)

    def verify(self, completion: str, reference: Any, params: CodeParams, ctx: Context) -> Verdict:
        reference = normalise_reference(reference)
        text = after_reasoning(completion) if params.after_reasoning else completion
        wanted = params.language or reference["language"]
        if wanted and find_language(wanted) is None:
            return Verdict.failed(Status.invalid_input, f"unknown language {wanted!r}")
        wanted = find_language(wanted).name if wanted else None
        blocks = extract_code_blocks(text)
        block = choose_block(blocks, wanted)
        if block is None:
            if blocks and not wanted and not any(b.language or not b.tag for b in blocks):
                return Verdict.failed(Status.wrong_format, f"code block in an unsupported language {blocks[-1].tag!r}")
            if params.require_fence or not text.strip():
                return Verdict.failed(Status.wrong_format, "no fenced code block" + (f" in {wanted}" if wanted else ""))
            block = CodeBlock(language=None, tag="", code=text)
        language = wanted or block.language or "python"
        needs_python = any(t["kind"] != "stdio" for t in reference["tests"])
        if needs_python and language != "python":
            return Verdict.failed(Status.wrong_format, f"these tests call Python functions; the code is {language}")
        unavailable = missing_toolchain(find_language(language))  # type: ignore[arg-type]
        if unavailable:
            return Verdict.failed(Status.error, unavailable)
        all_or_nothing = params.reward == "all_or_nothing"
        stop = params.stop_on_first_failure if params.stop_on_first_failure is not None else all_or_nothing
        options = RunOptions(
            compare=params.compare, float_tolerance=params.float_tolerance, stop_on_first_failure=stop,
            sample=params.sample, seed=params.seed,
            limits=Limits(cpu_time_s=params.time_limit_s, wall_time_s=params.time_limit_s * 2 + 1,
                          memory_mb=params.memory_mb),
        )
        started = time.monotonic()
        tests_deadline = ctx.deadline - _DEADLINE_MARGIN_S
        report = run_tests(language, block.code, reference["tests"], options, sandbox=shared_sandbox(),
                           deadline=tests_deadline)
        details: dict[str, Any] = {"language": language, "passed": report.passed, "total": report.total,
                                   "sandbox_ms": round((time.monotonic() - started) * 1000, 1)}
        if report.status is ExecStatus.sandbox_error:
            reason = (report.compile.message if report.compile else None) or "sandbox failure"
            return Verdict.failed(Status.error, reason, details=details)
        if report.status is ExecStatus.compile_error:
            details["compile_error"] = clip(report.compile.stderr if report.compile else "", 2000)
            return Verdict.scored(0.0, details=details, components={"pass_rate": 0.0, "compiled": 0.0})
        ordered = sorted(report.results, key=lambda r: (r.passed, r.index))[: params.max_details]
        details["tests"] = [r.model_dump(mode="json", exclude_none=True) for r in ordered]
        if any(r.status is ExecStatus.sandbox_error for r in report.results):
            return Verdict.failed(Status.error, "the sandbox failed on some tests", details=details)
        if _cut_by_deadline(report, tests_deadline):
            # A test the item's deadline cut short (or never ran) says nothing about the program:
            # scoring it as failed would pay a correct program less on a loaded machine.
            ran = sum(1 for r in report.results if r.status is not ExecStatus.timeout)
            return Verdict.failed(Status.timeout, f"the item's deadline cut the tests short ({ran} of "
                                                  f"{report.total} finished)", details=details)
        fraction = report.fraction  # with stop_on_first_failure, tests after the first failure count as failed
        reward = (1.0 if report.all_passed else 0.0) if all_or_nothing else fraction
        return Verdict.scored(reward, details=details, components={"pass_rate": fraction, "compiled": 1.0})


def _cut_by_deadline(report: Any, tests_deadline: float) -> bool:
    """Some test timed out, and the item's deadline had come: the cut was the deadline's."""
    return (any(r.status is ExecStatus.timeout for r in report.results)
            and time.monotonic() >= tests_deadline - 0.1)
