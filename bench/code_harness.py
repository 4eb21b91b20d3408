"""Before/after, in one run: Python test runs per second through the trusted harness, and the time
per HumanEval-X-like item (compile included) in each language.

    .venv/bin/python -m bench.code_harness --before e705a2c [--programs 60] [--items 6]
    .venv/bin/python -m bench.code_harness --before afdcbe0 --skip-python --languages cpp,java,c
    .venv/bin/python -m bench.code_harness --before e319620 --skip-python --languages cpp --declared-problems 8
    .venv/bin/python -m bench.code_harness --before e319620 --skip-python --languages java --declared-problems 6
    .venv/bin/python -m bench.code_harness --before e319620 --skip-python --languages rust --items 8 \
        --declared-problems 6 --samples 4 --declared-languages rust

`--before` is a git revision (checked out in a temporary `git worktree`) or a directory holding
another checkout. Each measurement runs in a fresh process importing that tree's `sandbox`, the
before and after variants alternate (so load on a shared machine hits both alike), and the
ratio is printed.
  * Python: `run_tests` with HumanEval-style assert tests (one `check` with three asserts per
    program), function-call tests and stdin/stdout tests (the path `bench.sandbox` measures),
    each in a fresh isolated run, on one warm sandbox.
  * Compiled items: a program plus test code that calls it, built and run once per item. The
    "before" tree has no test-code shape, so there the test code is appended to the program (as
    HumanEval-X items had to be sent; for Rust with a `main` that calls the tests, since the
    `#[cfg(test)]` module of a plain build is not even compiled); "after" uses the reference's
    `test_code` shape. The figure is the median per item.
  * `--declared-problems N`: items that carry HumanEval-X's `declaration` (C++, Java and Rust, see
    `--declared-languages`), N problems of `--samples` distinct programs each; "after" runs each
    test apart from its program (built once per problem), so the first sample of a problem and the
    later ones are reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PYTHON_WORKLOAD = r'''
import json, sys, time
from sandbox import AssertTest, CallTest, Sandbox, StdioTest, run_tests
programs, kind = int(sys.argv[1]), sys.argv[2]
box = Sandbox(); box.start()
def case(i):
    k = i % 7 + 2
    source = f"def scale(x):\n    return x * {k}\n"
    if kind == "stdio":
        source = f"print(int(input()) * {k})\n"
        return source, [StdioTest(stdin=str(x), expected_stdout=str(x * k)) for x in (1, 2, 3)]
    if kind == "assert":
        script = "def check(candidate):\n" + "".join(f"    assert candidate({x}) == {x * k}\n" for x in (1, 2, 3))
        return source, [AssertTest(script=script, entry_point="scale")]
    return source, [CallTest(fn="scale", args=[x], expected=x * k) for x in (1, 2, 3)]
from bench.sandbox import _descendants, _tree_cpu_s  # CPU of the sandbox's processes and their reaped children
run_tests("python", *case(0), sandbox=box)  # warm-up
pids = _descendants(box._proc.pid)
passed = runs = 0
cpu0, tree0 = time.process_time(), _tree_cpu_s(pids)
start = time.perf_counter()
for i in range(programs):
    report = run_tests("python", *case(i), sandbox=box)
    passed += report.passed; runs += report.total
elapsed = time.perf_counter() - start
time.sleep(0.1)  # the last test process is reaped by its server
cpu = time.process_time() - cpu0 + _tree_cpu_s(pids) - tree0
box.close()
print(json.dumps({"runs": runs, "passed": passed, "per_s": runs / elapsed, "cpu_ms": cpu / runs * 1000}))
'''

COMPILED_WORKLOAD = r'''
import json, statistics, sys, time
from sandbox import Sandbox, StdioTest, run_tests
language, items, shape = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cases = json.loads(sys.stdin.read())
program, test_code, appended = cases[language]
box = Sandbox(); box.start()
try:  # trees with compiler caches: have them built before timing, as a warm service has
    from sandbox import pch
    for name in (*pch.VARIANTS, getattr(pch, "JAVAC_ARCHIVE", ""), getattr(pch, "JAVAC_SERVER", "")):
        name and pch.build(name)
except ImportError:
    pass
times, cpus, passed = [], [], 0
for i in range(items + 1):
    source = program.replace("{K}", str(i % 5 + 2))
    test = test_code.replace("{K}", str(i % 5 + 2))
    start = time.perf_counter()
    if shape == "test_code":
        from sandbox import CodeTest
        report = run_tests(language, source, [CodeTest(test_code=test)], sandbox=box)
    else:
        report = run_tests(language, appended.replace("{K}", str(i % 5 + 2)),
                           [StdioTest(stdin="", expected_stdout="")], sandbox=box)
    if i:  # the first item warms the sandbox and the compiler's files
        times.append((time.perf_counter() - start) * 1000)
        cpus.append((report.compile.cpu_ms if report.compile else 0) + sum(r.cpu_ms for r in report.results))
        passed += report.passed
box.close()
print(json.dumps({"median_ms": statistics.median(times), "cpu_ms": statistics.median(cpus), "passed": passed,
                  "items": items}))
'''

DECLARED_WORKLOAD = r'''
import json, statistics, sys, time
from sandbox import Sandbox, run_tests
from sandbox.testcases import CodeTest
problems, samples, language = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
program, test_code, declaration = json.loads(sys.stdin.read())
comment = "#" if language == "bash" else "//"
declared = "declaration" in CodeTest.model_fields  # an older tree builds the test into the program
box = Sandbox(); box.start()
try:  # compiler caches built before timing, as a warm service has them
    from sandbox import pch
    for name in (*pch.VARIANTS, getattr(pch, "JAVAC_ARCHIVE", ""), getattr(pch, "JAVAC_SERVER", "")):
        name and pch.build(name)
except ImportError:
    pass
first, later, cpus, passed = [], [], [], 0
for p in range(problems + 1):
    k = str(p + 2)  # every problem its own test: no test is built twice across problems
    for s in range(samples):
        source = program.replace("{K}", k) + f"{comment} sample {s}\n"
        test = CodeTest(test_code=test_code.replace("{K}", k), **({"declaration": declaration} if declared else {}))
        start = time.perf_counter()
        report = run_tests(language, source, [test], sandbox=box)
        if p:  # the first problem warms the sandbox and the compiler's files
            (later if s else first).append((time.perf_counter() - start) * 1000)
            cpus.append((report.compile.cpu_ms if report.compile else 0) + sum(r.cpu_ms for r in report.results))
            passed += report.passed
box.close()
print(json.dumps({"first_ms": statistics.median(first), "later_ms": statistics.median(later),
                  "mean_ms": statistics.mean(first + later), "passed": passed, "items": len(first + later)}))
'''

# HumanEval-X's shapes with their `declaration`, as (program, test code, declaration). C++ and
# Java: the program continues the declaration. Rust: the declaration names crates the sandbox does
# not have (`rand`, `regex`, `md5`), so the program, as a completion would, starts with
# `fn main(){}` and restates only the `use` lines it needs.
_CPP_DECLARATION = ("#include<stdio.h>\n#include<math.h>\n#include<vector>\n#include<string>\n#include<algorithm>\n"
                    "using namespace std;\n#include<stdlib.h>\nvector<int> scale(vector<int> v){\n")
_RUST_DECLARATION = ("\nuse std::{slice::Iter, cmp::{max, self}, mem::replace, collections::{HashSet, HashMap}, "
                     "ops::Index, ascii::AsciiExt};\nuse rand::Rng;\nuse regex::Regex;\nuse md5;\n"
                     "use std::any::{Any, TypeId};\n\nfn scale(v: Vec<i32>) -> Vec<i32>{\n")
_JAVA_DECLARATION = "import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n    public List<Integer> scale(List<Integer> v) {\n"
DECLARED = {
    "cpp": (_CPP_DECLARATION + "    for (auto &x : v) x *= {K};\n    sort(v.begin(), v.end());\n    return v;\n}\n",
            "#undef NDEBUG\n#include<assert.h>\nbool issame(vector<int> a, vector<int> b){ return a == b; }\n"
            "int main(){\n    assert (issame(scale({3, 1, 2}), {1 * {K}, 2 * {K}, 3 * {K}}));\n}\n",
            _CPP_DECLARATION),
    "rust": ("fn main(){}\n\nuse std::collections::HashMap;\n\nfn scale(v: Vec<i32>) -> Vec<i32>{\n"
             "    let mut out: Vec<i32> = v.iter().map(|x| x * {K}).collect();\n    out.sort();\n"
             "    let _m: HashMap<i32, i32> = HashMap::new();\n    out\n}\n",
             "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn test_scale() {\n"
             "        assert!(scale(vec![3, 1, 2]) == vec![1 * {K}, 2 * {K}, 3 * {K}]);\n"
             "        assert_eq!(scale(vec![]), vec![]);\n    }\n\n}\n",
             _RUST_DECLARATION),
    "java": (_JAVA_DECLARATION + "        List<Integer> out = new ArrayList<>();\n        for (int x : v) out.add(x * {K});\n"
             "        Collections.sort(out);\n        return out;\n    }\n}\n",
             "public class Main {\n    public static void main(String[] args) {\n        Solution s = new Solution();\n"
             "        List<Boolean> correct = Arrays.asList(\n"
             "                s.scale(new ArrayList<>(Arrays.asList(3, 1, 2))).equals(Arrays.asList(1 * {K}, 2 * {K}, 3 * {K}))\n"
             "        );\n        if (correct.contains(false)) {\n            throw new AssertionError();\n        }\n"
             "    }\n}\n",
             _JAVA_DECLARATION),
}

# A HumanEval-X-sized item per language: a function and test code that asserts on it. `{K}` varies
# per item so that no compiler or result cache can answer the second one.
ITEMS = {
    "cpp": ("#include<stdio.h>\n#include<math.h>\n#include<vector>\n#include<string>\n#include<algorithm>\n"
            "using namespace std;\n#include<stdlib.h>\nvector<int> scale(vector<int> v){\n"
            "    for (auto &x : v) x *= {K};\n    sort(v.begin(), v.end());\n    return v;\n}\n",
            "#undef NDEBUG\n#include<assert.h>\nbool issame(vector<int> a, vector<int> b){ return a == b; }\n"
            "int main(){\n    assert (issame(scale({3, 1, 2}), {1 * {K}, 2 * {K}, 3 * {K}}));\n}\n"),
    "c": ("#include<stdio.h>\n#include<math.h>\n#include<stdlib.h>\n#include<string.h>\n"
          "int scale(int x){\n    return x * {K};\n}\n",
          "#undef NDEBUG\n#include<assert.h>\nint main(){\n    assert (scale(3) == 3 * {K});\n"
          "    assert (scale(-1) == -{K});\n}\n"),
    "java": ("import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n"
             "    public List<Integer> scale(List<Integer> v) {\n        List<Integer> out = new ArrayList<>();\n"
             "        for (int x : v) out.add(x * {K});\n        Collections.sort(out);\n        return out;\n    }\n}\n",
             "public class Main {\n    public static void main(String[] args) {\n        Solution s = new Solution();\n"
             "        List<Boolean> correct = Arrays.asList(\n"
             "                s.scale(Arrays.asList(3, 1, 2)).equals(Arrays.asList(1 * {K}, 2 * {K}, 3 * {K}))\n"
             "        );\n        if (correct.contains(false)) {\n            throw new AssertionError();\n        }\n"
             "    }\n}\n"),
    "rust": ("fn main(){}\nuse std::collections::HashMap;\nfn scale(v: Vec<i32>) -> Vec<i32> {\n"
             "    let mut out: Vec<i32> = v.iter().map(|x| x * {K}).collect();\n    out.sort();\n"
             "    let _m: HashMap<i32, i32> = HashMap::new();\n    out\n}\n",
             "#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn test_scale() {\n"
             "        assert!(scale(vec![3, 1, 2]) == vec![1 * {K}, 2 * {K}, 3 * {K}]);\n    }\n}\n"),
    "javascript": ("const scale = (v) => v.map((x) => x * {K}).sort((a, b) => a - b)\n",
                   "const testScale = () => {\n  const candidate = scale\n"
                   "  console.assert(JSON.stringify(candidate([3, 1, 2])) === JSON.stringify([1 * {K}, 2 * {K}, 3 * {K}]))\n"
                   "}\ntestScale()\n"),
}


def _appended(language: str, program: str, test_code: str) -> str:
    """How the item had to be sent before test code had a shape: all in the completion."""
    if language == "rust":  # the same source the test-code shape builds, tests called from main
        from sandbox.testcode import DONE_MARKER, SHAPES
        source = SHAPES["rust"].build(program, test_code)[1]
        return "\n".join(line for line in source.splitlines() if "token" not in line and DONE_MARKER not in line)
    return program + "\n" + test_code


def _run(tree: Path, code: str, args: list[str], stdin: str = "") -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, "-c", code, *args], input=stdin, capture_output=True, text=True,
                          cwd=tree, env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"workload failed in {tree}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _checkout(before: str, stack: list) -> Path:
    if Path(before).is_dir():
        return Path(before).resolve()
    tmp = tempfile.mkdtemp(prefix="referee-before-")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", tmp, before], check=True,
                   capture_output=True)
    stack.append(tmp)
    return Path(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="git revision or directory of the 'before' tree")
    parser.add_argument("--programs", type=int, default=60, help="Python programs (3 tests each) per measurement")
    parser.add_argument("--items", type=int, default=6, help="compiled items per language")
    parser.add_argument("--rounds", type=int, default=2, help="alternating before/after rounds for Python")
    parser.add_argument("--languages", default=",".join(ITEMS))
    parser.add_argument("--skip-python", action="store_true", help="only the compiled items")
    parser.add_argument("--declared-problems", type=int, default=0,
                        help="also items with a declaration: this many problems ...")
    parser.add_argument("--samples", type=int, default=4, help="... of this many samples each ...")
    parser.add_argument("--declared-languages", default=None,
                        help="... in these languages (of: " + ",".join(DECLARED) + "; default: those of "
                             "--languages that have one, else cpp)")
    args = parser.parse_args()
    made: list[str] = []
    try:
        before = _checkout(args.before, made)
        trees = {"before": before, "after": ROOT}
        print(f"before: {args.before}; after: this tree; {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f} at start\n")
        if not args.skip_python:
            _python_rows(trees, args)
        _compiled_rows(trees, args)
    finally:
        for tmp in made:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tmp], capture_output=True)


def _python_rows(trees: dict[str, Path], args: argparse.Namespace) -> None:
    print(f"Python tests through run_tests, {args.programs} programs x 3 tests, one warm sandbox\n")
    print("runs/s: wall clock, one process after another (on a busy machine, every hand-over between")
    print("processes waits for a core); CPU ms: CPU time of every process involved, per test run\n")
    print(f"| {'tests':<22} | {'before runs/s':>13} | {'after runs/s':>12} | {'ratio':>6} "
          f"| {'before CPU ms':>13} | {'after CPU ms':>12} | {'ratio':>6} |")
    print(f"|{'-' * 24}|{'-' * 15}|{'-' * 14}|{'-' * 8}|{'-' * 15}|{'-' * 14}|{'-' * 8}|")
    for kind in ("assert", "call", "stdio"):
        rates: dict[str, list[float]] = {"before": [], "after": []}
        cpus: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                result = _run(tree, PYTHON_WORKLOAD, [str(args.programs), kind])
                assert result["passed"] == result["runs"], (name, kind, result)
                rates[name].append(result["per_s"])
                cpus[name].append(result["cpu_ms"])
        b, a = statistics.median(rates["before"]), statistics.median(rates["after"])
        bc, ac = statistics.median(cpus["before"]), statistics.median(cpus["after"])
        label = {"assert": "assert (check, 3 asserts)", "call": "call (3 per program)",
                 "stdio": "stdio (3 per program)"}[kind]
        print(f"| {label:<22} | {b:>13.1f} | {a:>12.1f} | {a / b:>5.2f}x | {bc:>13.2f} | {ac:>12.2f} | {ac / bc:>5.2f}x |")
    print()


def _compiled_rows(trees: dict[str, Path], args: argparse.Namespace) -> None:
    # A "before" tree with test-code shapes builds the items the same way; an older one gets them appended.
    before_shape = "test_code" if (trees["before"] / "sandbox" / "testcode.py").exists() else "appended"
    print(f"HumanEval-X-like items, median per item (compile + run), {args.items} items per language;")
    print(f"before: {before_shape}, after: test_code; wall ms on this machine, CPU ms: compiler and run process trees\n")
    print(f"| {'language':<12} | {'before ms':>10} | {'after ms':>9} | {'ratio':>6} | {'before CPU ms':>13} "
          f"| {'after CPU ms':>12} | {'ratio':>6} | passed b/a |")
    print(f"|{'-' * 14}|{'-' * 12}|{'-' * 11}|{'-' * 8}|{'-' * 15}|{'-' * 14}|{'-' * 8}|{'-' * 12}|")
    cases = json.dumps({lang: [p, t, _appended(lang, p, t)] for lang, (p, t) in ITEMS.items()})
    for language in args.languages.split(","):
        b = _run(trees["before"], COMPILED_WORKLOAD, [language, str(args.items), before_shape], cases)
        a = _run(trees["after"], COMPILED_WORKLOAD, [language, str(args.items), "test_code"], cases)
        print(f"| {language:<12} | {b['median_ms']:>10.0f} | {a['median_ms']:>9.0f} | "
              f"{a['median_ms'] / b['median_ms']:>5.2f}x | {b['cpu_ms']:>13.0f} | {a['cpu_ms']:>12.0f} | "
              f"{a['cpu_ms'] / b['cpu_ms']:>5.2f}x | {b['passed']}/{a['passed']} of {args.items} |")
    if args.declared_problems:
        _declared_rows(trees, args)


def _declared_languages(args: argparse.Namespace) -> list[str]:
    if args.declared_languages:
        chosen = args.declared_languages.split(",")
        unknown = [language for language in chosen if language not in DECLARED]
        if unknown:
            raise SystemExit(f"no declared items for {', '.join(unknown)} (have: {', '.join(DECLARED)})")
        return chosen
    return [language for language in args.languages.split(",") if language in DECLARED] or ["cpp"]


def _declared_rows(trees: dict[str, Path], args: argparse.Namespace) -> None:
    """Items with HumanEval-X's `declaration`: "after" runs the test apart from the program (a
    test process of its own, built once per problem); "before" builds it into the program."""
    n, k = args.declared_problems, args.samples
    for language in _declared_languages(args):
        print(f"\n{language} with a declaration, {n} problems x {k} samples (distinct programs), "
              "median wall ms per item:")
        print("the first sample of a problem builds the test too; later samples reuse it\n")
        print(f"| {'tree':<8} | {'first sample':>12} | {'later samples':>13} | {'mean':>6} | passed |")
        print(f"|{'-' * 10}|{'-' * 14}|{'-' * 15}|{'-' * 8}|{'-' * 8}|")
        payload = json.dumps(list(DECLARED[language]))
        for name, tree in trees.items():
            r = _run(tree, DECLARED_WORKLOAD, [str(n), str(k), language], payload)
            print(f"| {name:<8} | {r['first_ms']:>12.0f} | {r['later_ms']:>13.0f} | {r['mean_ms']:>6.0f} "
                  f"| {r['passed']}/{r['items']} |")


if __name__ == "__main__":
    main()
