"""The warm javac: Java programs compile in a server kept outside every program's sandbox, with the
same verdicts and the same compiler messages as javac in the sandbox, and no program can reach it."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import verifiers
from sandbox import LANGUAGES, CodeTest, ExecResult, ExecStatus, Sandbox, pch, run_tests, shared_sandbox
from sandbox.languages import missing_toolchain
from sandbox.launcher import BubblewrapLauncher
from sandbox.warm_javac import SERVER_CLASS, WarmJavac

pytestmark = pytest.mark.timeout(300)

SOLUTION = ("import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n"
            "    public List<Integer> scale(List<Integer> v) {\n        List<Integer> out = new ArrayList<>();\n"
            "        for (int x : v) out.add(x * 3);\n        Collections.sort(out);\n        return out;\n    }\n}\n")
TEST_CODE = ("public class Main {\n    public static void main(String[] args) {\n        Solution s = new Solution();\n"
             "        List<Boolean> correct = Arrays.asList(\n"
             "                s.scale(Arrays.asList(3, 1, 2)).equals(Arrays.asList(3, 6, 9))\n"
             "        );\n        if (correct.contains(false)) {\n            throw new AssertionError();\n        }\n"
             "    }\n}\n")
# Each nesting level doubles the source and multiplies javac's inference work: minutes of compiling.
_BOMB = "1"
for _ in range(11):
    _BOMB = f"java.util.Map.of(1, {_BOMB}, 2, {_BOMB})"
COMPILE_BOMB = "public class Main { public static void main(String[] a) { Object o = " + _BOMB + "; } }\n"
# Compiles in a second or more even warm: long enough to kill the server in the middle of it.
SLOW = "".join(f"class C{c} {{\n" + "".join(f"    static int m{i}(int x) {{ return x * {i} + {i % 7}; }}\n"
                                            for i in range(10000)) + "}\n" for c in range(3)) \
    + "public class Main { public static void main(String[] a) { System.out.println(C2.m9999(1)); } }\n"


@pytest.fixture(scope="module")
def box():
    if missing_toolchain(LANGUAGES["java"]):
        pytest.skip(missing_toolchain(LANGUAGES["java"]))
    assert pch.build(pch.JAVAC_SERVER)  # what the service builds in the background on first use
    with Sandbox() as sandbox:
        yield sandbox


def _descendants(root: int) -> list[int]:
    pending, seen = [root], []
    while pending:
        pid = pending.pop()
        seen.append(pid)
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                pending += [int(child) for child in fh.read().split()]
    return seen


def _server_jvm(javac: WarmJavac) -> int:
    """The host pid of the server's JVM (bubblewrap's grandchild)."""
    assert javac.pid is not None
    seen = _descendants(javac.pid)
    for pid in seen:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            if SERVER_CLASS.encode() in fh.read().split(b"\0") and os.readlink(f"/proc/{pid}/exe").endswith("java"):
                return pid
    raise AssertionError(f"no JVM among {seen}")


def _without_warm_javac(box: Sandbox) -> None:
    box.warm_javac.stop()
    box.warm_javac.disabled = "compared with javac in the sandbox"


def test_a_correct_and_a_wrong_item_through_the_code_verifier():
    if missing_toolchain(LANGUAGES["java"]):
        pytest.skip(missing_toolchain(LANGUAGES["java"]))
    assert pch.build(pch.JAVAC_SERVER)
    reference = {"language": "java", "test": TEST_CODE, "task_id": "Java/0"}
    rewards = []
    for program in (SOLUTION, SOLUTION.replace("x * 3", "x * 4"), SOLUTION.replace("x * 3", "x * \"3\"")):
        verdict = verifiers.verify("code", completion=f"```java\n{program}```", reference=reference, timeout_s=120)
        assert verdict.status.value == "ok", verdict
        rewards.append(verdict.reward)
    assert rewards == [1.0, 0.0, 0.0]
    assert shared_sandbox().warm_javac.pid is not None  # compiled by the warm server


DIAGNOSTICS = {
    "errors": "import java.util.*;\npublic class Main {\n  public static void main(String[] a) {\n"
              "    int x = \"s\";\n    Lisst<Integer> l = null;\n    String é = 1;\n  }\n}\n",
    "notes only": "import java.util.*;\npublic class Main {\n  public static void main(String[] a) {\n"
                  "    List l = new ArrayList(); l.add(1); Thread.currentThread().stop();\n  }\n}\n",
    "wrong file name": "class Main {}\npublic class Other { public static void main(String[] a) {} }\n"
                       "public class Third {}\n",
    "syntax": "public class Main { public static void main(String[] a) { int x = ; } \n",
    "a path in a class name": "public class Main { class A\\u002f\\u002e\\u002eB {} }\n",
}


def _compile(box: Sandbox, source: str) -> ExecResult:
    with box.program("java", source) as program:
        assert program.compile_result is not None
        return program.compile_result


def test_compile_messages_and_verdicts_are_javacs_own(box):
    warm = {name: _compile(box, source) for name, source in DIAGNOSTICS.items()}
    assert box.warm_javac.pid is not None
    _without_warm_javac(box)
    try:
        cold = {name: _compile(box, source) for name, source in DIAGNOSTICS.items()}
    finally:
        box.warm_javac.disabled = None
    for name in DIAGNOSTICS:
        assert (warm[name].status, warm[name].message, warm[name].stderr) == \
               (cold[name].status, cold[name].message, cold[name].stderr), name
    assert warm["errors"].status is ExecStatus.compile_error
    assert warm["errors"].stderr.startswith("Main.java:4: error: incompatible types: String cannot be converted to int")
    assert warm["errors"].stderr.endswith("3 errors\n") and warm["errors"].message == "exit code 1"
    assert warm["notes only"].status is ExecStatus.ok and "Note: Main.java uses" in warm["notes only"].stderr
    assert "Other.java" in warm["wrong file name"].stderr


def test_programs_in_a_row_never_see_each_others_classes(box):
    first = ("public class Main { public static void main(String[] a) { System.out.println(Helper.secret()); } }\n"
             "class Helper { static String secret() { return \"first\"; } }\n")
    assert box.execute("java", first).stdout == "first\n"
    uses_it = "public class Main { public static void main(String[] a) { System.out.println(Helper.secret()); } }\n"
    result = box.execute("java", uses_it)
    assert result.status is ExecStatus.compile_error and "cannot find symbol" in result.stderr, result
    second = ("public class Main { public static void main(String[] a) throws Exception {\n"
              "  System.out.println(Helper.secret());\n"
              "  System.out.println(String.join(\",\", new java.io.File(\"/prog\").list()));\n"
              "  Class.forName(\"Helper$Gone\"); } }\n"
              "class Helper { static String secret() { return \"second\"; } }\n")
    result = box.execute("java", second)
    assert result.stdout.startswith("second\n") and "ClassNotFoundException: Helper$Gone" in result.stderr, result
    assert sorted(result.stdout.splitlines()[1].split(",")) == ["Helper.class", "Main.class", "Main.java"]
    packaged = "package p.q;\npublic class Main { public static void main(String[] a) {} }\n"
    result = box.execute("java", packaged)  # placed in /prog/p/q/Main.class, as javac -d . does
    assert result.status is ExecStatus.runtime_error and "ClassNotFoundException: Main" in result.stderr, result


def test_a_compile_bomb_times_out_and_the_next_compile_gets_a_fresh_server(box):
    before = box.warm_javac.pid or (box.execute("java", SOLUTION + TEST_CODE).ok and box.warm_javac.pid)
    assert before is not None
    started = time.monotonic()
    report = run_tests("java", COMPILE_BOMB, [CodeTest(test_code="class T { public static void main(String[] a) {} }")],
                       sandbox=box, deadline=time.monotonic() + 3)
    assert time.monotonic() - started < 20
    assert report.status is ExecStatus.compile_error and report.compile is not None, report
    assert report.compile.message.startswith("wall clock limit"), report.compile
    assert box.warm_javac.pid is None  # killed
    good = run_tests("java", SOLUTION, [CodeTest(test_code=TEST_CODE)], sandbox=box)
    assert good.passed == 1, good
    assert box.warm_javac.pid not in (None, before)


def test_killing_the_server_mid_compile_still_gives_that_program_its_verdict(box, caplog):
    box.execute("java", SOLUTION + TEST_CODE)
    jvm = _server_jvm(box.warm_javac)
    results = []
    thread = threading.Thread(target=lambda: results.append(box.execute("java", SLOW)))
    thread.start()
    time.sleep(0.3)
    os.kill(jvm, signal.SIGKILL)
    thread.join(240)
    assert "warm javac failed" in caplog.text  # killed while compiling: javac in the sandbox took over
    assert results and results[0].status is ExecStatus.ok and results[0].stdout == f"{9999 + 9999 % 7}\n", results
    report = run_tests("java", SOLUTION, [CodeTest(test_code=TEST_CODE)], sandbox=box)
    assert report.passed == 1, report
    assert _server_jvm(box.warm_javac) != jvm


def test_a_compile_that_exhausts_the_servers_heap_gets_javacs_own_verdict(box, caplog):
    # Constant folding doubles a string 30 times: 16 GiB of characters, past every heap.
    constants = "".join(f"    static final String S{i} = S{i - 1} + S{i - 1};\n" for i in range(1, 31))
    source = ("public class Main {\n    static final String S0 = \"0123456789abcdef\";\n" + constants
              + "    public static void main(String[] a) { System.out.println(S30.length()); }\n}\n")
    box.execute("java", SOLUTION + TEST_CODE)
    before = box.warm_javac.pid
    result = _compile(box, source)
    assert result.status is ExecStatus.compile_error, result  # javac in the sandbox decided it
    assert "OutOfMemoryError" in caplog.text  # the server's own words, from its stderr
    report = run_tests("java", SOLUTION, [CodeTest(test_code=TEST_CODE)], sandbox=box)
    assert report.passed == 1, report
    assert box.warm_javac.pid not in (None, before)


def test_no_program_can_see_or_reach_the_server(box):
    assert box.execute("java", SOLUTION + TEST_CODE).ok
    jvm = _server_jvm(box.warm_javac)
    looks = ("import os\nfound = []\nfor pid in os.listdir('/proc'):\n    if pid.isdigit():\n"
             "        try:\n            found.append(open(f'/proc/{pid}/cmdline', 'rb').read())\n"
             "        except OSError:\n            pass\n"
             f"print(sum({SERVER_CLASS!r}.encode() in c for c in found), len(found))\n")
    result = box.execute("python", looks)
    assert result.ok and result.stdout.startswith("0 "), result  # it sees its own processes only
    assert box._proc is not None
    sandbox = [pid for pid in _descendants(box._proc.pid) if "python" in os.readlink(f"/proc/{pid}/exe")]
    assert sandbox
    for kind in ("net", "pid", "mnt", "user", "ipc"):  # apart from the programs' sandbox and from the host
        for other in (*sandbox, os.getpid()):
            assert os.readlink(f"/proc/{jvm}/ns/{kind}") != os.readlink(f"/proc/{other}/ns/{kind}")
    fds = [os.readlink(f"/proc/{jvm}/fd/{fd}") for fd in os.listdir(f"/proc/{jvm}/fd")]
    assert not [fd for fd in fds if fd.startswith("socket:")], fds
    with open(f"/proc/{jvm}/mountinfo") as fh:  # nothing writable but /proc and the null-like devices
        writable = {line.split()[4] for line in fh if f"{line.split()[5]},".startswith("rw,")}
    assert writable <= {"/proc", "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}, writable
    with open(f"/proc/{jvm}/status") as fh:
        status = dict(line.split(":", 1) for line in fh)
    assert status["CapEff"].strip() == "0" * 16 and status["NoNewPrivs"].strip() == "1", status


def test_a_program_cannot_make_the_compiler_run_its_code(box):
    processor = (
        "import java.util.*;\nimport javax.annotation.processing.*;\nimport javax.lang.model.element.*;\n"
        "// -J-Dx=1 -processor Evil -d /tmp  (options in the source are nothing but text)\n"
        "@SupportedAnnotationTypes(\"*\")\n"
        "class Evil extends AbstractProcessor {\n"
        "    static { if (true) throw new Error(\"PROCESSOR RAN\"); }\n"
        "    public boolean process(Set<? extends TypeElement> a, RoundEnvironment r) { throw new Error(\"RAN\"); }\n"
        "}\n@Deprecated\npublic class Main { public static void main(String[] a) throws Exception {\n"
        "  System.out.println(new java.io.File(\"/prog/META-INF\").exists()); } }\n")
    result = box.execute("java", processor)
    assert box.warm_javac.pid is not None
    assert (result.status, result.stdout) == (ExecStatus.ok, "false\n"), result


def test_without_a_warm_server_java_still_compiles_in_the_sandbox(box):
    with Sandbox(box.launcher) as other:
        other.warm_javac = WarmJavac(BubblewrapLauncher(bwrap="/nonexistent/bwrap"))
        report = run_tests("java", SOLUTION, [CodeTest(test_code=TEST_CODE)], sandbox=other)
        assert report.passed == 1 and other.warm_javac.disabled and other.warm_javac.pid is None, report
        wrong = run_tests("java", SOLUTION.replace("x * 3", "x * 4"), [CodeTest(test_code=TEST_CODE)], sandbox=other)
        assert wrong.passed == 0 and wrong.status is ExecStatus.ok
    # a program with files of its own is compiled in the sandbox too (javac there reads them)
    helper = "public class Helper { public static int twice(int x) { return 2 * x; } }\n"
    prog = "public class Main { public static void main(String[] a) { System.out.println(Helper.twice(21)); } }\n"
    with box.program("java", prog, files={"Helper.java": helper}) as program:
        assert program.compile_result is not None and program.compile_result.ok, program.compile_result
        assert program.run().stdout == "42\n"
