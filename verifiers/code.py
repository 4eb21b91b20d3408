"""`code`: extract a program from the completion, run it against tests in the sandbox.

Reference shapes (normalised by `check_reference` into `{"language", "tests"}`):
  * `{"tests": [{"stdin": "1 2", "stdout": "3"}, ...]}` (also `input`/`output` keys)
  * `{"inputs": [...], "outputs": [...]}` (APPS/TACO style; with `fn_name`, each input is an
    argument list and each output the expected return value)
  * `{"fn_name": "add", "tests": [{"args": [1, 2], "expected": 3}, ...]}`; `tolerance` lets a
    float stand for an expected int
  * `{"test": "def check(candidate): ...", "entry_point": "add"}` (HumanEval)
  * `{"test_list": ["assert add(1, 2) == 3", ...]}` (MBPP; one test per assert), with optional
    `test_imports` and `test_setup` run before each
  * `{"language": "cpp", "test_code": "int main() { assert(add(1, 2) == 3); }"}` (also
    HumanEval-X's `test`): test code in the program's language, built and run with it
Any of them may carry `"language"`: the language expected when the code fence names none.
Unknown keys are refused (dataset fields such as `task_id` or `prompt` are accepted).

Each worker process talks to its own warm sandbox (`sandbox.shared_sandbox()`), started on
first use; the sandbox dies with the worker, so a worker killed on overrun takes it along.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from sandbox import ExecStatus, Limits, RunOptions, find_language, run_tests, shared_sandbox
from sandbox.compare import CompareMode, clip
from sandbox.languages import missing_toolchain
from sandbox.testcases import TestCase
from sandbox.testcode import SHAPES
from verifiers.base import Context, Verifier
from verifiers.contract import Status, Verdict
from verifiers.text import after_reasoning

_TEST_SHAPE: TypeAdapter = TypeAdapter(TestCase)
_DEADLINE_MARGIN_S = 0.25  # leave the worker time to build and return the verdict
_OPEN_FENCE = re.compile(r"([ \t]*+)(`{3,}+|~{3,}+)[ \t]*+([^\s`]*+)[^`]*+")  # possessive: no backtracking
_SHELL = "bash"  # a shell block is usually how to run the answer, not the answer


@dataclass(frozen=True)
class CodeBlock:
    language: str | None  # canonical language name, or None for an untagged / unknown fence
    tag: str  # the fence's tag as written
    code: str


def extract_code_blocks(text: str) -> list[CodeBlock]:
    """Every closed fenced code block (``` or ~~~), in order, with the language named by its tag.

    One pass over the lines (linear in the text): CRLF line ends are accepted, and a fence
    indented inside a list item has that indentation removed from its lines."""
    blocks: list[CodeBlock] = []
    opened: tuple[str, str, int] | None = None  # (fence, tag, indent)
    body: list[str] = []
    for raw in text.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if opened is None:
            match = _OPEN_FENCE.fullmatch(line)
            if match:
                indent = len(match.group(1).expandtabs(4))
                opened, body = (match.group(2), match.group(3).strip().lower(), indent), []
            continue
        fence, tag, indent = opened
        stripped = line.strip()
        if stripped and stripped[0] == fence[0] and len(stripped) >= len(fence) and stripped == stripped[0] * len(stripped):
            lang = find_language(tag) if tag else None
            blocks.append(CodeBlock(language=lang.name if lang else None, tag=tag, code="".join(body)))
            opened = None
            continue
        body.append(_dedent(line, indent) + "\n")
    return blocks


def _dedent(line: str, indent: int) -> str:
    """`line` without up to `indent` columns of leading whitespace (the fence's own indentation)."""
    i = col = 0
    while i < len(line) and col < indent and line[i] in " \t":
        col += 4 - col % 4 if line[i] == "\t" else 1
        i += 1
    return line[i:]


def choose_block(blocks: list[CodeBlock], language: str | None) -> CodeBlock | None:
    """With a language: the last block tagged with it, else the last untagged block. Without
    one: the last block in a known language that is not a shell command, else the last shell
    block, else the last untagged one."""
    if language:
        tagged = [b for b in blocks if b.language == language]
        untagged = [b for b in blocks if not b.tag]
        return tagged[-1] if tagged else (untagged[-1] if untagged else None)
    for wanted in ([b for b in blocks if b.language and b.language != _SHELL],
                   [b for b in blocks if b.language == _SHELL], [b for b in blocks if not b.tag]):
        if wanted:
            return wanted[-1]
    return None


class CodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str | None = Field(None, description="force a language; else the fence's, else the reference's, else python")
    reward: Literal["fraction", "all_or_nothing"] = Field("fraction", description="pass fraction, or 1 only if all pass")
    compare: CompareMode = Field("lines", description="stdout comparison: exact, lines, tokens or float")
    float_tolerance: float = Field(1e-6, ge=0)
    stop_on_first_failure: bool | None = Field(None, description="default: true for all_or_nothing, else false")
    sample: int | None = Field(None, ge=1, description="run only this many tests (seeded choice)")
    seed: int = 0
    time_limit_s: float = Field(3.0, gt=0, le=60, description="CPU seconds per test (HumanEval's and MBPP's own "
                                "harnesses allow 3)")
    memory_mb: int = Field(512, ge=32, le=8192)
    require_fence: bool = Field(True, description="if false, an unfenced completion is taken as code")
    after_reasoning: bool = True
    max_details: int = Field(20, ge=0, description="per-test details listed (failures first)")


def _stdio(raw: dict) -> dict:
    stdin = raw.get("stdin", raw.get("input", ""))
    stdout = raw.get("stdout", raw.get("output", raw.get("expected_stdout")))
    if not isinstance(stdin, str) or not isinstance(stdout, str):
        raise ValueError("a stdin/stdout test needs string `stdin` (or `input`) and `stdout` (or `output`)")
    unknown = set(raw) - {"stdin", "input", "stdout", "output", "expected_stdout", "files"}
    if unknown:
        raise ValueError(f"unknown keys in a stdin/stdout test: {', '.join(sorted(unknown))}")
    test = {"kind": "stdio", "stdin": stdin, "expected_stdout": stdout}
    if raw.get("files"):
        test["files"] = raw["files"]
    return test


# Keys that carry tests or options, and dataset fields that carry none (a whole HumanEval, MBPP or
# HumanEval-X record can be passed as it is). Anything else is refused, never ignored.
_REFERENCE_KEYS = {"language", "tests", "inputs", "outputs", "fn_name", "test", "entry_point", "test_list",
                   "challenge_test_list", "test_setup", "test_setup_code", "test_imports", "test_code", "tolerance",
                   "declaration"}
_METADATA_KEYS = {"task_id", "prompt", "canonical_solution", "text", "code", "source_file",
                  "example_test", "description", "name", "difficulty"}


def _setup(reference: dict) -> str:
    """MBPP's `test_imports` and `test_setup` (`test_setup_code`), run before each assert."""
    imports = reference.get("test_imports") or []
    if isinstance(imports, str):
        imports = [imports]
    if not isinstance(imports, list) or not all(isinstance(line, str) for line in imports):
        raise ValueError("`test_imports` must be a list of import statements")
    setup = reference.get("test_setup") or reference.get("test_setup_code") or ""
    if not isinstance(setup, str):
        raise ValueError("`test_setup` must be code")
    return "\n".join([*imports, setup]).strip()


def normalise_reference(reference: Any) -> dict:
    """The reference as `{"language": str | None, "tests": [test dicts]}`; ValueError if unusable."""
    if isinstance(reference, list):
        reference = {"tests": reference}
    if not isinstance(reference, dict):
        raise ValueError("reference must be an object with tests (see the `code` verifier's docs)")
    unknown = set(reference) - _REFERENCE_KEYS - _METADATA_KEYS
    if unknown:
        raise ValueError(f"unknown reference keys: {', '.join(sorted(map(str, unknown)))} "
                         f"(tests go in: {', '.join(sorted(_REFERENCE_KEYS))})")
    language = reference.get("language")
    if language is not None and (not isinstance(language, str) or find_language(language) is None
                                 or "+" in language):
        raise ValueError(f"unknown language {language!r}")
    language = find_language(language).name if language else None
    tolerance = reference.get("tolerance")
    if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
                                  or not 0 <= tolerance < 1):
        raise ValueError("`tolerance` must be a number in [0, 1)")
    fn = reference.get("fn_name")
    tests: list[dict] = []
    test_code = reference.get("test_code")
    if "test" in reference and language not in (None, "python"):  # HumanEval-X: test code in the language
        test_code = reference["test"] if test_code is None else test_code
    elif "test" in reference:  # HumanEval
        if not isinstance(reference["test"], str):
            raise ValueError("`test` must be a test script")
        tests.append({"kind": "assert", "script": reference["test"], "entry_point": reference.get("entry_point")})
    if test_code is not None:
        if not isinstance(test_code, str) or not test_code.strip():
            raise ValueError("`test_code` must be test code in the program's language")
        if language not in (None, "python") and language not in SHAPES:
            raise ValueError(f"test code is not supported for {language}")
        declaration = reference.get("declaration")
        if declaration is not None and not isinstance(declaration, str):
            raise ValueError("`declaration` must be the code the test is built against")
        tests.append({"kind": "code", "test_code": test_code, "declaration": declaration}
                     if language not in (None, "python")
                     else {"kind": "assert", "script": test_code, "entry_point": reference.get("entry_point")})
    if "test_list" in reference or "challenge_test_list" in reference:  # MBPP
        setup = _setup(reference)
        for key in ("test_list", "challenge_test_list"):
            lines = reference.get(key) or []
            if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
                raise ValueError(f"`{key}` must hold assert statements")
            tests += [{"kind": "assert", "script": f"{setup}\n{line}" if setup else line} for line in lines]
    if "inputs" in reference or "outputs" in reference:  # APPS / TACO
        inputs, outputs = reference.get("inputs"), reference.get("outputs")
        if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
            raise ValueError("`inputs` and `outputs` must be lists of the same length")
        for given, expected in zip(inputs, outputs):
            if fn:
                args = given if isinstance(given, list) else [given]
                want = expected[0] if isinstance(expected, list) and len(expected) == 1 else expected
                tests.append({"kind": "call", "fn": fn, "args": args, "expected": want, "tolerance": tolerance})
            else:
                tests.append(_stdio({"stdin": given, "stdout": expected}))
    raw_tests = reference.get("tests") or []
    if not isinstance(raw_tests, list):
        raise ValueError("`tests` must be a list")
    for raw in raw_tests:
        if not isinstance(raw, dict):
            raise ValueError("each test must be an object")
        if "kind" in raw:  # already in the sandbox's own shape (a normalised reference)
            try:
                tests.append(_TEST_SHAPE.validate_python(raw).model_dump())
            except ValidationError as exc:
                raise ValueError(f"bad test: {exc.errors()[0]['msg']}") from None
        elif "args" in raw or "expected" in raw:
            unknown = set(raw) - {"args", "expected", "fn", "tolerance"}
            if unknown:
                raise ValueError(f"unknown keys in a function-call test: {', '.join(sorted(unknown))}")
            name = raw.get("fn", fn)
            if not isinstance(name, str):
                raise ValueError("a function-call test needs `fn_name` (or `fn`)")
            tests.append({"kind": "call", "fn": name, "args": list(raw.get("args") or []), "expected": raw.get("expected"),
                          "tolerance": raw.get("tolerance", tolerance)})
        elif "script" in raw or "assert" in raw:
            unknown = set(raw) - {"script", "assert", "entry_point"}
            if unknown:
                raise ValueError(f"unknown keys in an assert test: {', '.join(sorted(unknown))}")
            tests.append({"kind": "assert", "script": raw.get("script", raw.get("assert")),
                          "entry_point": raw.get("entry_point")})
        else:
            tests.append(_stdio(raw))
    if not tests:
        raise ValueError("reference holds no tests")
    if any(t["kind"] == "code" for t in tests) and len(tests) > 1:
        raise ValueError("test code in another language cannot be combined with other tests")
    for test in tests:
        if test["kind"] == "assert":
            if not isinstance(test["script"], str):
                raise ValueError("a test script must be a string")
            try:  # a broken test script is the reference's fault, not the completion's
                compile(test["script"], "test.py", "exec")
            except (SyntaxError, ValueError) as exc:
                raise ValueError(f"test script does not parse: {exc}") from None
    return {"language": language, "tests": tests}


class CodeVerifier(Verifier):
    name = "code"
    version = 2
    description = "Runs the completion's code against tests in an isolated sandbox (stdin/stdout, function calls, asserts)."
    Params = CodeParams

    def check_reference(self, reference: Any, params: CodeParams) -> Any:
        return normalise_reference(reference)

    def verify(self, completion: str, reference: Any, params: CodeParams, ctx: Context) -> Verdict:
        reference = normalise_reference(reference)
        text = after_reasoning(completion) if params.after_reasoning else completion
        kinds = {t["kind"] for t in reference["tests"]}
        python_tests = bool(kinds & {"assert", "call"})
        wanted = params.language or reference["language"] or ("python" if python_tests else None)
        if wanted and (find_language(wanted) is None or "+" in wanted):
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
        if python_tests and language != "python":
            return Verdict.failed(Status.wrong_format, f"these tests call Python functions; the code is {language}")
        if "code" in kinds and language != "python" and language not in SHAPES:
            return Verdict.failed(Status.invalid_input, f"test code is not supported for {language}")
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
            reason = ((report.compile.message if report.compile else None)
                      or next((r.reason for r in report.results if r.reason), None) or "sandbox failure")
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
