"""Every language of the table, statuses, compile-once, and `run_tests` with its three test kinds."""

from __future__ import annotations

import textwrap

import pytest

from sandbox import (LANGUAGES, AssertTest, CallTest, ExecStatus, Limits, RunOptions, Sandbox, StdioTest,
                     run_tests)
from sandbox.compare import first_difference, outputs_match, values_match
from sandbox.languages import missing_toolchain

ADD_TWO = {
    "python": "a, b = map(int, input().split())\nprint(a + b)",
    "c": '#include <stdio.h>\nint main(void){long a,b; if(scanf("%ld %ld",&a,&b)!=2) return 1; printf("%ld\\n",a+b); return 0;}',
    "cpp": "#include <iostream>\nint main(){long a,b; std::cin>>a>>b; std::cout<<a+b<<std::endl;}",
    "javascript": 'const [a,b]=require("fs").readFileSync(0,"utf8").trim().split(/\\s+/).map(Number);\nconsole.log(a+b);',
    "java": "import java.util.*;\npublic class Adder { public static void main(String[] x) {\n"
            " Scanner s = new Scanner(System.in); System.out.println(s.nextLong() + s.nextLong()); } }",
    "rust": "use std::io::Read;\nfn main(){let mut s=String::new(); std::io::stdin().read_to_string(&mut s).unwrap();\n"
            " let v:Vec<i64>=s.split_whitespace().map(|x| x.parse().unwrap()).collect(); println!(\"{}\", v[0]+v[1]);}",
    "bash": "read a b\necho $((a + b))",
}
BROKEN = {
    "c": "int main(void) { return undefined_name; }",
    "cpp": "int main() { std::vector<int> v; }",
    "java": "public class Main { public static void main(String[] a) { int x = \"s\"; } }",
    "rust": "fn main() { let x: i32 = \"s\"; }",
    "python": "def f(:\n    pass",
}
CRASH = {
    "python": "raise SystemExit(3)",
    "c": "int main(void){ return 3; }",
    "cpp": "#include <cstdlib>\nint main(){ std::exit(3); }",
    "javascript": "process.exit(3)",
    "java": "public class Main { public static void main(String[] a) { System.exit(3); } }",
    "rust": "fn main(){ std::process::exit(3); }",
    "bash": "exit 3",
}


@pytest.fixture(scope="module")
def box():
    with Sandbox() as sandbox:
        yield sandbox


def need(language: str) -> None:
    reason = missing_toolchain(LANGUAGES[language])
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("language", sorted(ADD_TWO))
def test_every_language_compiles_once_and_runs_every_test(box, language):
    need(language)
    tests = [StdioTest(stdin=f"{i} {i * 7}", expected_stdout=f"{i * 8}\n") for i in range(4)]
    report = run_tests(language, ADD_TWO[language], tests, sandbox=box)
    assert report.passed == 4, report
    assert report.compile is None or report.compile.status is ExecStatus.ok


@pytest.mark.parametrize("language", sorted(BROKEN))
def test_compile_errors_are_reported_once(box, language):
    need(language)
    report = run_tests(language, BROKEN[language], [StdioTest(expected_stdout="")] * 3, sandbox=box)
    assert report.status is ExecStatus.compile_error, report
    assert report.results == []
    assert report.compile.stderr.strip()


@pytest.mark.parametrize("language", sorted(CRASH))
def test_exit_codes_are_runtime_errors(box, language):
    need(language)
    result = box.execute(language, CRASH[language])
    assert result.status is ExecStatus.runtime_error and result.exit_code == 3, result


def test_a_signal_death_is_reported_with_its_signal(box):
    need("c")
    result = box.execute("c", "int main(void){ volatile int *p = 0; return *p; }")
    assert result.status is ExecStatus.runtime_error and result.signal == 11, result
    result = box.execute("cpp", "#include <cstdlib>\nint main(){ std::abort(); }")
    assert result.status is ExecStatus.runtime_error and result.signal == 6, result


def test_uncaught_python_exception_has_a_clean_traceback(box):
    result = box.execute("python", "def f():\n    return 1 / 0\nf()")
    assert result.status is ExecStatus.runtime_error and result.exit_code == 1
    assert "ZeroDivisionError" in result.stderr and "zygote" not in result.stderr
    assert "_child_python" not in result.stderr


def test_files_are_placed_in_the_working_directory(box):
    result = box.execute("python", "print(open('data/in.txt').read().upper())", files={"data/in.txt": "hello"})
    assert result.stdout == "HELLO\n", result


def test_binary_and_unicode_io_round_trips(box):
    result = box.execute("python", "import sys; data = sys.stdin.read(); print(data[::-1])", stdin="héllo ✓")
    assert result.stdout == "✓ olléh\n"


def test_large_stdin_is_streamed(box):
    data = "1\n" * 500_000
    result = box.execute("python", "import sys; print(sum(map(int, sys.stdin)))", stdin=data)
    assert result.stdout == "500000\n", result


def test_deep_recursion_gets_a_big_stack(box):
    source = "import sys\nsys.setrecursionlimit(10**6)\ndef d(n): return 0 if n == 0 else 1 + d(n - 1)\nprint(d(100000))"
    result = box.execute("python", source)
    assert result.stdout == "100000\n", result


def test_numpy_style_threads_are_not_broken_by_limits(box):
    result = box.execute("python", textwrap.dedent("""
        import threading
        out = []
        threads = [threading.Thread(target=lambda: out.append(sum(range(10**5)))) for _ in range(8)]
        [t.start() for t in threads]; [t.join() for t in threads]
        print(len(out))
    """))
    assert result.stdout == "8\n", result


def test_java_gets_its_virtual_memory(box):
    need("java")
    result = box.execute("java", "public class Main { public static void main(String[] a) {"
                                 " int[] big = new int[20_000_000]; System.out.println(big.length); } }")
    assert result.stdout == "20000000\n", result


# -- run_tests ---------------------------------------------------------------------------------------

def test_call_tests_compare_json_results_in_the_parent(box):
    source = "def f(xs, k):\n    return sorted(xs)[:k]\ndef g():\n    return {1, 2}"
    tests = [CallTest(fn="f", args=[[3, 1, 2], 2], expected=[1, 2]),
             CallTest(fn="f", args=[[3, 1, 2], 1], expected=[2]),
             CallTest(fn="missing", args=[], expected=None),
             CallTest(fn="g", expected=[1, 2])]
    report = run_tests("python", source, tests, sandbox=box)
    assert [r.passed for r in report.results] == [True, False, False, True], report
    assert report.results[1].diff == {"expected": "[2]", "got": "[1]"}


def test_a_program_cannot_claim_success_on_the_result_channel(box):
    source = "import os\nos.write(3, b'{\"value\": 42, \"done\": \"\"}')\nos._exit(0)\ndef f(): return 0"
    report = run_tests("python", source, [CallTest(fn="f", expected=42)], sandbox=box)
    assert report.passed == 0


def test_assert_tests_cannot_be_passed_by_exiting_early(box):
    cheats = [
        "import sys\nsys.exit(0)",
        "import os\nos._exit(0)",
        "exit()",
        "quit(0)",
        "raise SystemExit",
        "import os\nos.write(3, b'{\"done\": \"\"}')\nos._exit(0)",
    ]
    test = AssertTest(script="assert inc(1) == 2")
    for cheat in cheats:
        report = run_tests("python", "def inc(x):\n    return x + 1\n" + cheat, [test], sandbox=box)
        assert report.passed == 0, cheat
    honest = run_tests("python", "def inc(x):\n    return x + 1", [test], sandbox=box)
    assert honest.passed == 1


def test_exiting_inside_the_test_script_does_not_pass(box):
    report = run_tests("python", "def inc(x):\n    return x\n",
                       [AssertTest(script="def check(f):\n    import sys\n    sys.exit(0)\n    assert f(1) == 2",
                                   entry_point="inc")], sandbox=box)
    assert report.passed == 0


def test_stop_on_first_failure_and_sampling(box):
    tests = [StdioTest(stdin=str(i), expected_stdout=str(i if i != 2 else -1)) for i in range(6)]
    source = "print(input())"
    full = run_tests("python", source, tests, sandbox=box)
    assert (full.passed, full.total, len(full.results)) == (5, 6, 6)
    stopped = run_tests("python", source, tests, RunOptions(stop_on_first_failure=True), sandbox=box)
    assert [r.index for r in stopped.results] == [0, 1, 2]
    sampled = run_tests("python", source, tests, RunOptions(sample=3, seed=1), sandbox=box)
    again = run_tests("python", source, tests, RunOptions(sample=3, seed=1), sandbox=box)
    assert sampled.total == 3 and [r.index for r in sampled.results] == [r.index for r in again.results]


def test_per_test_limits_give_per_test_statuses(box):
    source = "n = int(input())\nif n == 1:\n    while True: pass\nif n == 2:\n    raise ValueError\nprint(n)"
    tests = [StdioTest(stdin=str(i), expected_stdout=str(i)) for i in range(3)]
    limits = Limits(cpu_time_s=1, wall_time_s=3)
    report = run_tests("python", source, tests, RunOptions(limits=limits), sandbox=box)
    assert [r.status for r in report.results] == [ExecStatus.ok, ExecStatus.timeout, ExecStatus.runtime_error]
    assert report.passed == 1


def test_float_and_whitespace_comparisons():
    assert outputs_match("1 2\n3\n", "1 2   \n3\n\n", "lines")
    assert not outputs_match("1 2\n3\n", "1 2 3", "lines")
    assert outputs_match("1 2\n3\n", "1 2 3", "tokens")
    assert not outputs_match("a\n", "a", "exact")
    assert outputs_match("0.333333", "0.3333331", "float", 1e-6)
    assert not outputs_match("0.3333", "0.3334", "float", 1e-6)
    assert outputs_match("1e9 x", "1000000000.0 x", "float")
    assert not outputs_match("1 2", "1 2 3", "float")
    assert values_match([1, {"a": 0.1 + 0.2}], [1, {"a": 0.3}])
    assert not values_match(True, 1) and not values_match(1, "1") and not values_match([1], [1, 2])
    assert first_difference("a\nb\nc", "a\nx\nc") == {"line": 2, "expected": "b", "got": "x"}
    assert first_difference("a\nb", "a")["got"] == "<end of output>"


def test_python_sources_that_break_the_parser_are_compile_errors(box):
    for source in ("x = " + "(" * 300 + "1" + ")" * 300, "x = " + "[" * 5000 + "]" * 5000, "\0print(1)"):
        result = box.execute("python", source)
        assert result.status is ExecStatus.compile_error, result
    assert box.execute("python", "print(2)").stdout == "2\n"
