"""Test code in any language, built and run with the program (HumanEval-X style: test code that
calls the program's functions and fails by assertion, exception or exit status).

The test code comes from the reference, never from the completion.

JavaScript and Python test code runs outside the program's process: in a trusted test process
of its own (sandbox/js/trusted_test.js, sandbox/harness.py) that calls the program's functions
through proxies, gets their results back as data, compares them with pristine builtins and
alone holds the channel the verdict is written to. So does C++, Java and Rust test code that
comes with a declaration of the function it tests (sandbox/cpp_bridge.py, java_bridge.py,
rust_bridge.py).

Otherwise, in C, C++, Java, Rust and Bash, the test code is built into the program. Each language's shape
adds a small harness around it: after the test code has finished without failing, the harness
reads a one-time token from stdin (the service sends a fresh one per run) and prints it on a
line of its own. A test passes only if the run exits 0 *and* printed that line, so a program
that exits early, before or during the tests, fails; but a program written to read the
harness's token from stdin itself could forge the line (see docs/code.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

DONE_MARKER = "REFEREE-TESTS-DONE"


@dataclass(frozen=True)
class TestCodeShape:
    run_language: str  # the language table entry that builds and runs the combination
    combine: Callable[[str, str], str]  # (program, test code) -> the source to build
    # A cheaper build where the test code allows it: (program, test code) -> (language, source) or None
    fast: Callable[[str, str], tuple[str, str] | None] | None = None
    # Test code -> the frame for the trusted test process; None: the test code is built into the program
    trusted_test: Callable[[str], dict] | None = None

    def build(self, program: str, test_code: str) -> tuple[str, str]:
        """(language table entry, source) for the program with this test code."""
        quick = self.fast(program, test_code) if self.fast else None
        return quick or (self.run_language, self.combine(program, test_code))


def passed_marker(stdout: str, token: str) -> bool:
    """Did the harness print its line with this run's token?"""
    wanted = f"{DONE_MARKER} {token}"
    return any(line.strip() == wanted for line in stdout.splitlines())


_C_HARNESS = """
#include <stdio.h>
/* Linked with -Wl,--wrap=main: the C runtime calls this, and the test's own main is __real_main. */
int __real_main(int, char **);
int __wrap_main(int argc, char **argv) {
    int status = __real_main(argc, argv);
    if (status != 0) return status;
    char token[128] = {0};
    if (!fgets(token, sizeof token, stdin)) return 3;
    fflush(stdout);
    printf("\\n%s %s\\n", "DONE", token);
    fflush(stdout);
    return 0;
}
""".replace('"DONE"', f'"{DONE_MARKER}"')

_CPP_HARNESS = """
#include <cstdio>
/* Linked with -Wl,--wrap=main: the C runtime calls this, and the test's own main is __real_main. */
extern "C" int __real_main(int, char **);
extern "C" int __wrap_main(int argc, char **argv) {
    int status = __real_main(argc, argv);
    if (status != 0) return status;
    char token[128] = {0};
    if (!std::fgets(token, sizeof token, stdin)) return 3;
    std::fflush(stdout);
    std::printf("\\n%s %s\\n", "DONE", token);
    std::fflush(stdout);
    return 0;
}
""".replace('"DONE"', f'"{DONE_MARKER}"')


def _c_like(harness: str) -> Callable[[str, str], str]:
    def combine(program: str, test_code: str) -> str:
        return f"{program}\n\n{test_code}\n{harness}"
    return combine


_JAVA_TOP_PUBLIC = re.compile(r"^(\s*)public\s+((?:final\s+|abstract\s+)*(?:class|interface|enum|record)\b)",
                              re.MULTILINE)
_JAVA_IMPORT = re.compile(r"^\s*import\s+(?:static\s+)?[\w.]+(?:\.\*)?\s*;[ \t]*$", re.MULTILINE)
_JAVA_PACKAGE = re.compile(r"^\s*package\s+[\w.]+\s*;[ \t]*$", re.MULTILINE)
_JAVA_MAIN_CLASS = re.compile(r"\bclass\s+([A-Za-z_$][\w$]*)[^{]*\{(?:(?!\bclass\b).)*?\bstatic\s+void\s+main\s*\(",
                              re.DOTALL)


def java_parts(text: str) -> tuple[list[str], str]:
    """(import lines, the rest without `package` or imports, with no public type): Java source
    ready to share one file with other code."""
    imports = [line.strip() for line in _JAVA_IMPORT.findall(text)]
    return imports, _JAVA_TOP_PUBLIC.sub(r"\1\2", _JAVA_PACKAGE.sub("", _JAVA_IMPORT.sub("", text)))


def java_main_class(test_code: str) -> str:
    """The class of Java test code whose `main` runs the tests."""
    main = _JAVA_MAIN_CLASS.search(test_code)
    return main.group(1) if main else "Main"


def _java(program: str, test_code: str) -> str:
    """One file: imports first, no other public type, and a public harness class that calls the
    test's `main`, then prints the token line."""
    main_class = java_main_class(test_code)
    (program_imports, program_body), (test_imports, test_body) = java_parts(program), java_parts(test_code)
    imports, parts = program_imports + test_imports, [program_body, test_body]
    harness = (
        "public class RefereeTestHarness {\n"
        "    public static void main(String[] args) throws Throwable {\n"
        f"        {main_class}.main(args);\n"
        "        String token = new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();\n"
        "        System.out.flush();\n"
        f'        System.out.println("\\n{DONE_MARKER} " + token);\n'
        "        System.out.flush();\n"
        "        System.exit(0);\n"
        "    }\n"
        "}\n"
    )
    return "\n".join(imports) + "\n\n" + "\n\n".join(parts) + "\n\n" + harness


_JS_DIR = Path(__file__).with_name("js")
_JS_VALUES = (_JS_DIR / "values.js").read_text(encoding="utf-8")
_JS_PROGRAM_CALLS = (_JS_DIR / "program_calls.js").read_text(encoding="utf-8")
_JS_TRUSTED_TEST = (_JS_DIR / "trusted_test.js").read_text(encoding="utf-8")
_JS_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
_MAX_NAMES = 10_000
_NODE_TASKS = 16  # the test's Node: its own threads (V8's workers), room the sandbox makes for them


def _javascript(program: str, test_code: str) -> str:
    """The program, then (in a block of its own, so it declares nothing at the top level) the loop
    that answers the test process's calls; the test code is not in it."""
    return (f"{program}\n;{{\n{_JS_VALUES}\n{_JS_PROGRAM_CALLS}"
            "((__refereeName) => eval(__refereeName));\n}\n")


def _javascript_test(test_code: str) -> dict:
    """The trusted test process's frame: its runner, the test code, and the names it may need
    from the program (every identifier in it; the runner keeps those that are not its builtins)."""
    names = list(dict.fromkeys(_JS_IDENTIFIER.findall(test_code)))[:_MAX_NAMES]
    return {"runner": "javascript", "runner_source": f"{_JS_VALUES}\n{_JS_TRUSTED_TEST}",
            "script": test_code, "names": names, "tasks": _NODE_TASKS}


def _rust(program: str, test_code: str) -> str:
    """Built with `--test` and run one test at a time in name order: this module's test sorts
    last, so it prints the token line only after every test ran (the exit status says if all passed)."""
    return (f"{program}\n\n{test_code}\n\n#[cfg(test)]\nmod zzzz_referee_tests_done {{\n"
            "    #[test]\n    fn zzzz_after_every_test() {\n"
            "        let mut token = String::new();\n"
            "        std::io::stdin().read_line(&mut token).unwrap();\n"
            f'        println!("\\n{DONE_MARKER} {{}}", token.trim_end());\n'
            "    }\n}\n")


_RUST_TEST_FN = re.compile(r"#\[test\]\s*fn\s+([A-Za-z_]\w*)\s*\(\s*\)")
_RUST_MAIN = re.compile(r"^fn\s+main\s*\(\s*\)", re.MULTILINE)
_RUST_TESTS_MOD = re.compile(r"#\[cfg\(test\)\]\s*mod\s+([A-Za-z_]\w*)\s*\{")


def _newlines_kept(replacement: str) -> Callable[[re.Match], str]:
    """A substitution that keeps the line breaks it replaces (the test code's line numbers stay)."""
    return lambda m: m.expand(replacement) + "\n" * m.group(0).count("\n")


def rust_plain_tests(test_code: str) -> tuple[str, list[str]] | None:
    """HumanEval-X's shape (`#[cfg(test)] mod tests { #[test] fn t() {...} }`) as plain code: the
    module with its tests made `pub fn`, and the path of each test, in order, for a `main` to
    call. None for anything else (several test modules, attributes such as `#[should_panic]`)."""
    modules = _RUST_TESTS_MOD.findall(test_code)
    tests = _RUST_TEST_FN.findall(test_code)
    if len(modules) != 1 or not tests or len(tests) != test_code.count("#[") - 1:
        return None
    body = _RUST_TESTS_MOD.sub(_newlines_kept(r"mod \1 {"), test_code)
    body = _RUST_TEST_FN.sub(_newlines_kept(r"pub fn \1()"), body)
    return body, [f"{modules[0]}::{name}" for name in tests]


def _rust_fast(program: str, test_code: str) -> tuple[str, str] | None:
    """HumanEval-X's shape as a plain binary whose `main` calls each test in order: no libtest to
    build and link, about half the build time of `--test`. A panicking test ends the run with exit
    status 101, as under libtest. Anything else uses `--test`."""
    plain = rust_plain_tests(test_code)
    if plain is None or "#[test]" in program or "#[cfg(test)]" in program or len(_RUST_MAIN.findall(program)) > 1:
        return None
    body, tests = plain
    program = rename_rust_main(program)
    calls = "".join(f"    {name}();\n" for name in tests)
    main = ("fn main() {\n" + calls + "    let mut token = String::new();\n"
            "    std::io::stdin().read_line(&mut token).unwrap();\n"
            f'    println!("\\n{DONE_MARKER} {{}}", token.trim_end());\n}}\n')
    return "rust+quick", f"{program}\n\n#[allow(unused_imports)]\n{body}\n\n{main}"


def rename_rust_main(program: str) -> str:
    """The program with its `fn main` (HumanEval-X completions start with `fn main(){}`) renamed,
    so that another `main` can be added."""
    return _RUST_MAIN.sub("#[allow(dead_code)]\nfn referee_program_main()", program)


def _bash(program: str, test_code: str) -> str:
    """The test code runs after the program in the same script; a failing command of the test
    code fails the run only if the test code says so (`exit 1`, `set -e`), as in bash itself."""
    return (f"{program}\n\n{test_code}\n\nIFS= read -r referee_token\n"
            f"printf '\\n{DONE_MARKER} %s\\n' \"$referee_token\"\n")


SHAPES: dict[str, TestCodeShape] = {
    "c": TestCodeShape("c+tests", _c_like(_C_HARNESS)),
    "cpp": TestCodeShape("cpp+tests", _c_like(_CPP_HARNESS)),
    "java": TestCodeShape("java", _java),
    "javascript": TestCodeShape("javascript", _javascript, trusted_test=_javascript_test),
    "rust": TestCodeShape("rust+tests", _rust, _rust_fast),
    "bash": TestCodeShape("bash", _bash),
}
