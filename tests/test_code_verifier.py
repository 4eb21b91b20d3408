"""The `code` verifier: extraction, reference shapes, rewards, details, and use from worker processes."""

from __future__ import annotations

import subprocess

import pytest

import verifiers
from verifiers.code import choose_block, extract_code_blocks, normalise_reference
from verifiers.contract import Status
from verifiers.runtime import LocalScorer

ADD_STDIO = {"tests": [{"stdin": "1 2", "stdout": "3"}, {"stdin": "5 5", "stdout": "10"},
                       {"stdin": "-1 1", "stdout": "0"}, {"input": "7 8\n", "output": "15\n"}]}


def fenced(code: str, tag: str = "python") -> str:
    return f"Let me solve it.\n\n```{tag}\n{code}\n```\n"


def test_extraction_takes_the_last_block_and_its_language():
    text = ("<think>\n```python\nprint('draft')\n```\n</think>\nFirst:\n```python\nprint(1)\n```\n"
            "Better:\n~~~cpp\nint main(){}\n~~~\nand some prose")
    blocks = extract_code_blocks(text)
    assert [(b.language, b.code) for b in blocks] == [("python", "print('draft')\n"), ("python", "print(1)\n"),
                                                      ("cpp", "int main(){}\n")]
    assert choose_block(blocks, None).language == "cpp"
    assert choose_block(blocks, "python").code == "print(1)\n"
    assert choose_block(extract_code_blocks("```\nx = 1\n```"), None).code == "x = 1\n"
    assert choose_block(extract_code_blocks("```text\nhello\n```"), None) is None
    assert extract_code_blocks("no code here") == []


def test_pass_fraction_with_per_test_details():
    code = "a, b = map(int, input().split())\nprint(a + b if a != 5 else 0)"
    verdict = verifiers.verify("code", completion=fenced(code), reference=ADD_STDIO)
    assert verdict.status is Status.ok and verdict.reward == pytest.approx(0.75)
    assert verdict.components == {"pass_rate": 0.75, "compiled": 1.0}
    failed = verdict.details["tests"][0]
    assert failed["index"] == 1 and failed["passed"] is False and failed["status"] == "ok"
    assert failed["diff"] == {"line": 1, "expected": "10", "got": "0"}
    assert verdict.details["passed"] == 3 and verdict.details["total"] == 4


def test_all_or_nothing_stops_at_the_first_failure():
    code = "a, b = map(int, input().split())\nprint(0)"
    verdict = verifiers.verify("code", completion=fenced(code), reference=ADD_STDIO,
                               params={"reward": "all_or_nothing"})
    assert verdict.reward == 0.0 and len(verdict.details["tests"]) == 1
    good = verifiers.verify("code", completion=fenced("a, b = map(int, input().split())\nprint(a + b)"),
                            reference=ADD_STDIO, params={"reward": "all_or_nothing"})
    assert good.reward == 1.0


def test_compiled_language_from_the_fence():
    code = "#include <cstdio>\nint main(){long a,b; scanf(\"%ld %ld\",&a,&b); printf(\"%ld\\n\",a+b);}"
    verdict = verifiers.verify("code", completion=fenced(code, "cpp"), reference=ADD_STDIO)
    assert verdict.reward == 1.0 and verdict.details["language"] == "cpp"


def test_compile_error_scores_zero_with_the_compiler_output():
    verdict = verifiers.verify("code", completion=fenced("int main( {", "c"), reference=ADD_STDIO)
    assert verdict.status is Status.ok and verdict.reward == 0.0
    assert verdict.components["compiled"] == 0.0 and "error" in verdict.details["compile_error"]


def test_humaneval_mbpp_and_function_call_references():
    code = fenced("def add(a, b):\n    return a + b")
    humaneval = {"test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n",
                 "entry_point": "add"}
    assert verifiers.verify("code", completion=code, reference=humaneval).reward == 1.0
    mbpp = {"test_list": ["assert add(1, 2) == 3", "assert add(2, 2) == 5"]}
    assert verifiers.verify("code", completion=code, reference=mbpp).reward == 0.5
    apps_fn = {"fn_name": "add", "inputs": [[1, 2], [3, 4]], "outputs": [[3], [7]]}
    assert verifiers.verify("code", completion=code, reference=apps_fn).reward == 1.0
    calls = {"fn_name": "add", "tests": [{"args": [0.1, 0.2], "expected": 0.3}, {"args": [[1], [2]], "expected": [1, 2]}]}
    assert verifiers.verify("code", completion=code, reference=calls).reward == 1.0


def test_early_exit_does_not_pass_humaneval_tests():
    code = fenced("def add(a, b):\n    return 0\nimport sys\nsys.exit(0)")
    reference = {"test": "def check(candidate):\n    assert candidate(1, 2) == 3\n", "entry_point": "add"}
    verdict = verifiers.verify("code", completion=code, reference=reference)
    assert verdict.reward == 0.0 and verdict.status is Status.ok


def test_format_problems_are_wrong_format():
    assert verifiers.verify("code", completion="print(1)", reference=ADD_STDIO).status is Status.wrong_format
    unsupported = verifiers.verify("code", completion=fenced("main = print 1", "haskell"), reference=ADD_STDIO)
    assert unsupported.status is Status.wrong_format and "haskell" in unsupported.message
    c_for_python_tests = verifiers.verify("code", completion=fenced("int main(){}", "c"),
                                          reference={"test_list": ["assert f() == 1"]})
    assert c_for_python_tests.status is Status.wrong_format
    unfenced = verifiers.verify("code", completion="a, b = map(int, input().split())\nprint(a + b)",
                                reference=ADD_STDIO, params={"require_fence": False})
    assert unfenced.reward == 1.0


def test_bad_references_are_invalid_input():
    for bad in (None, "print(1)", {"tests": []}, {"inputs": [1], "outputs": []}, {"tests": [{"args": [1]}]},
                {"language": "cobol", "tests": [{"stdin": "", "stdout": ""}]}, {"test_list": ["assert f(1) =="]}):
        verdict = verifiers.verify("code", completion=fenced("print(1)"), reference=bad)
        assert verdict.status is Status.invalid_input, bad
    assert normalise_reference([{"stdin": "1", "stdout": "1"}])["tests"][0]["kind"] == "stdio"


def test_timeouts_and_crashes_are_failed_tests_not_errors():
    code = fenced("n = int(input())\nwhile n == 1: pass\nprint(1 // (n - 2))")
    reference = {"tests": [{"stdin": "1", "stdout": "0"}, {"stdin": "2", "stdout": "0"}, {"stdin": "3", "stdout": "1"}]}
    verdict = verifiers.verify("code", completion=code, reference=reference, params={"time_limit_s": 0.5})
    assert verdict.status is Status.ok and verdict.reward == pytest.approx(1 / 3)
    statuses = {t["index"]: t["status"] for t in verdict.details["tests"]}
    assert statuses == {0: "timeout", 1: "runtime_error", 2: "ok"}


def test_many_worker_processes_each_use_their_own_sandbox():
    items = []
    for i in range(24):
        code = "a, b = map(int, input().split())\nprint(a + b" + (" + 1)" if i % 3 == 0 else ")") + f"\n# variant {i}"
        items.append({"verifier": "code", "completion": fenced(code), "reference": ADD_STDIO})
    hostile = fenced("import os\nwhile True:\n    os.fork()")
    items.append({"verifier": "code", "completion": hostile, "reference": ADD_STDIO, "params": {"time_limit_s": 0.5}})
    with LocalScorer(workers=2, timeout_s=60) as scorer:
        verdicts = scorer.score(items)
    rewards = [v.reward for v in verdicts[:24]]
    assert rewards == [0.0 if i % 3 == 0 else 1.0 for i in range(24)], [(v.status, v.message) for v in verdicts]
    assert verdicts[24].status is Status.ok and verdicts[24].reward == 0.0
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "os.fork" not in ps


def test_a_jvm_runs_from_a_worker_with_an_address_space_limit():
    """Workers cap their own address space; the sandbox they start must not inherit the cap."""
    from sandbox.languages import LANGUAGES, missing_toolchain

    if missing_toolchain(LANGUAGES["java"]):
        pytest.skip(missing_toolchain(LANGUAGES["java"]))
    source = ("public class Main { public static void main(String[] a) {"
              " System.out.println(new java.util.Scanner(System.in).nextInt() * 2); } }")
    item = {"verifier": "code", "completion": fenced(source, "java"),
            "reference": {"tests": [{"stdin": "21", "stdout": "42"}]},
            "params": {"time_limit_s": 10, "memory_mb": 8192}}  # a JVM sized for 8 GiB reserves > the worker's 4 GiB
    with LocalScorer(workers=1, timeout_s=120) as scorer:
        verdict = scorer.score([item])[0]
    assert verdict.reward == 1.0, (verdict.status, verdict.message, verdict.details)
