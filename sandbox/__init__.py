"""Isolated execution of untrusted programs.

    from sandbox import Sandbox, run_tests, StdioTest
    with Sandbox() as box:
        box.execute("python", "print(input()[::-1])", stdin="abc").stdout   # 'cba\\n'
    report = run_tests("cpp", CPP_SOURCE, [StdioTest(stdin="1 2", expected_stdout="3")])

`sandbox` knows nothing about rewards; the `code` verifier builds on it.
"""

from sandbox.languages import LANGUAGES, Language, available_languages, find_language
from sandbox.limits import Limits
from sandbox.result import ExecResult, ExecStatus
from sandbox.pool import SandboxPool
from sandbox.session import Program, Sandbox, SandboxError, shared_sandbox
from sandbox.testcases import AssertTest, CallTest, CodeTest, RunOptions, StdioTest, TestCase, TestReport, TestResult, run_tests

__all__ = [
    "LANGUAGES", "Language", "available_languages", "find_language", "Limits", "ExecResult", "ExecStatus",
    "Program", "Sandbox", "SandboxError", "SandboxPool", "shared_sandbox", "AssertTest", "CallTest", "CodeTest", "RunOptions", "StdioTest",
    "TestCase", "TestReport", "TestResult", "run_tests",
]
