"""Which code the `code` verifier takes from a completion, and how the reference is read."""

from __future__ import annotations

import time

import pytest

import verifiers
from verifiers.code import choose_block, extract_code_blocks, normalise_reference


def test_crlf_fences_are_closed():
    text = "Solution:\r\n```python\r\nprint(1)\r\nprint(2)\r\n```\r\nDone.\r\n"
    (block,) = extract_code_blocks(text)
    assert block.language == "python" and block.code.splitlines() == ["print(1)", "print(2)"]


def test_a_fence_indented_in_a_list_loses_its_indentation():
    text = ("1. First, the function:\n\n   ```python\n   def f(x):\n       return x + 1\n   ```\n"
            "2. Then call it.\n")
    (block,) = extract_code_blocks(text)
    assert block.code == "def f(x):\n    return x + 1\n"
    compile(block.code, "main.py", "exec")  # no IndentationError


def test_tilde_fences_longer_fences_and_fences_inside_fences():
    text = "~~~py\nx = 1\n~~~\n````markdown\n```python\nnot code\n```\n````\n"
    blocks = extract_code_blocks(text)
    assert [(b.language, b.code) for b in blocks] == [("python", "x = 1\n"), (None, "```python\nnot code\n```\n")]


def test_unclosed_fence_is_not_a_block():
    assert extract_code_blocks("```python\nprint(1)\n") == []


def test_a_trailing_shell_block_is_not_taken_for_the_solution():
    text = ("```python\nprint(int(input()) * 2)\n```\nRun it with:\n```bash\npython3 solution.py\n```\n")
    block = choose_block(extract_code_blocks(text), None)
    assert block is not None and block.language == "python"
    verdict = verifiers.verify("code", completion=text, reference={"tests": [{"stdin": "4", "stdout": "8"}]})
    assert verdict.status.value == "ok" and verdict.reward == 1.0 and verdict.details["language"] == "python"


def test_the_block_in_the_tests_language_wins_over_a_later_untagged_one():
    text = "```python\ndef add(a, b):\n    return a + b\n```\nOutput:\n```\n5\n```\n"
    block = choose_block(extract_code_blocks(text), "python")
    assert block is not None and "def add" in block.code
    verdict = verifiers.verify("code", completion=text, reference={"test_list": ["assert add(2, 3) == 5"]})
    assert verdict.reward == 1.0, verdict.details


def test_python_tests_choose_the_python_block_among_others():
    text = "```cpp\nint add(int a, int b) { return a + b; }\n```\n```python\ndef add(a, b):\n    return a + b\n```\n" \
           "```bash\npython3 main.py\n```\n"
    verdict = verifiers.verify("code", completion=text, reference={"test_list": ["assert add(2, 3) == 5"]})
    assert verdict.reward == 1.0, verdict.details


@pytest.mark.parametrize("text", [
    "```python\n" * 20_000,
    "```" * 35_000 + "x",
    "```python " + "a" * 100_000 + "`",
    ("~~~\n" + "`" * 3 + "\n") * 10_000,
])
def test_the_fence_scanner_is_linear_in_the_text(text):
    started = time.monotonic()
    extract_code_blocks(text)
    assert time.monotonic() - started < 5  # quadratic scanning takes minutes on these


def test_mbpp_test_imports_run_before_each_assert():
    reference = {"task_id": 1, "text": "...", "code": "...", "test_imports": ["import math"],
                 "test_list": ["assert math.isclose(area(2), 12.566, rel_tol=0.001)", "assert area(0) == 0"]}
    program = "def area(r):\n    return 3.141592653589793 * r * r\n"
    verdict = verifiers.verify("code", completion=f"```python\n{program}```", reference=reference)
    assert verdict.status.value == "ok" and verdict.reward == 1.0, verdict.details


@pytest.mark.parametrize("reference, named", [
    ({"test_list": ["assert f() == 1"], "test_imprts": ["import math"]}, "test_imprts"),
    ({"tests": [{"stdin": "1", "stdout": "1", "timeout": 3}]}, "timeout"),
    ({"fn_name": "f", "tests": [{"args": [1], "expected": 2, "tol": 0.1}]}, "tol"),
    ({"test": "def check(c): pass", "entry_point": "f", "checker": "x"}, "checker"),
])
def test_unknown_reference_keys_are_refused_by_name(reference, named):
    with pytest.raises(ValueError, match=named):
        normalise_reference(reference)
    verdict = verifiers.verify("code", completion="```python\ndef f(): return 1\n```", reference=reference)
    assert verdict.status.value == "invalid_input" and named in verdict.message


def test_a_main_block_does_not_run_when_tests_import_the_program():
    program = "def add(a, b):\n    return a + b\n\nif __name__ == '__main__':\n    a, b = map(int, input().split())\n" \
              "    print(add(a, b))\n"
    for reference in ({"test": "def check(c):\n    assert c(1, 2) == 3\n", "entry_point": "add"},
                      {"fn_name": "add", "tests": [{"args": [1, 2], "expected": 3}]}):
        verdict = verifiers.verify("code", completion=f"```python\n{program}```", reference=reference)
        assert verdict.reward == 1.0, verdict.details
    # ... and it still runs for stdin/stdout tests, where the program is the main module
    verdict = verifiers.verify("code", completion=f"```python\n{program}```", reference={"tests": [{"stdin": "1 2", "stdout": "3"}]})
    assert verdict.reward == 1.0, verdict.details


def test_the_default_per_test_time_limit_is_three_seconds():
    from verifiers.code import CodeParams
    assert CodeParams().time_limit_s >= 3.0
    program = "import time\ndef slow():\n    end = time.process_time() + 2.3\n    while time.process_time() < end:\n" \
              "        pass\n    return 1\n"
    verdict = verifiers.verify("code", completion=f"```python\n{program}```",
                               reference={"fn_name": "slow", "tests": [{"args": [], "expected": 1}]}, timeout_s=60)
    if verdict.reward != 1.0 and "wall clock" in str(verdict.details):
        pytest.skip("the machine is too busy: 2.3 CPU seconds took longer than the wall-clock limit")
    assert verdict.reward == 1.0, verdict.details  # under a 2 s CPU limit it would be killed
