"""Precompiled C++ headers: used only when a program includes every header of one, read-only for
every run, and never a reason for a program to build differently."""

from __future__ import annotations

import hashlib
import os

import pytest

from sandbox import LANGUAGES, CodeTest, ExecStatus, Sandbox, StdioTest, pch, run_tests
from sandbox.languages import missing_toolchain

HUMANEVAL_HEADERS = "#include<stdio.h>\n#include<math.h>\n#include<vector>\n#include<string>\n" \
                    "#include<algorithm>\nusing namespace std;\n#include<stdlib.h>\n"
SCALE = HUMANEVAL_HEADERS + "vector<int> scale(vector<int> v){ for (auto &x : v) x *= 3; sort(v.begin(), v.end()); " \
                            "return v; }\n"
SCALE_TEST = "#undef NDEBUG\n#include<assert.h>\nint main(){ assert (scale({3, 1, 2}) == vector<int>({3, 6, 9})); }\n"


@pytest.fixture(scope="module")
def box():
    if missing_toolchain(LANGUAGES["cpp"]):
        pytest.skip(missing_toolchain(LANGUAGES["cpp"]))
    assert pch.build("humaneval")  # what the service builds in the background on first use
    with Sandbox() as sandbox:
        yield sandbox


def test_the_leading_block_decides_which_header_is_used():
    assert pch.choose_variant(SCALE) == "humaneval"
    assert pch.choose_variant("#include <bits/stdc++.h>\nusing namespace std;\nint main(){}") == "stdcxx"
    assert pch.choose_variant("// solution\n#include <vector>\n#include <algorithm>\n#include <string>\n") == "core"
    # Anything that could change what the headers declare stops the block: no header is forced in.
    assert pch.choose_variant("#define private public\n#include <bits/stdc++.h>\n") is None
    assert pch.choose_variant("#define _GLIBCXX_DEBUG\n" + SCALE) is None
    assert pch.choose_variant("/* c */\n#include <bits/stdc++.h>\n") is None
    assert pch.choose_variant("#include <vector>\n#include <string>\nint x;\n#include <algorithm>\n") is None
    assert pch.choose_variant('#include "vector"\n#include <string>\n#include <algorithm>\n') is None
    assert pch.choose_variant("int main(){}") is None


def test_a_ready_header_is_passed_with_invalid_pch_warnings(box):
    flags = pch.pch_flags(SCALE, box.pch_bound)
    assert flags[0] == "-include" and flags[1].startswith(f"{pch.SANDBOX_DIR}/humaneval-") and "-Winvalid-pch" in flags
    assert pch.pch_flags("#include <cstdio>\nint main(){}", box.pch_bound) == []
    assert pch.pch_flags(SCALE, None) == []  # a sandbox that bound another directory: none


def _digest(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def test_programs_cannot_tamper_with_the_headers_and_later_builds_are_unaffected(box):
    directory = pch.host_dir()
    before = {name: _digest(os.path.join(directory, name)) for name in os.listdir(directory) if name.endswith(".h.gch")}
    assert before
    key = pch.pch_flags(SCALE, box.pch_bound)[1]
    hostile_cpp = (HUMANEVAL_HEADERS + "#include <fstream>\n#include <cerrno>\n#include <cstring>\nint main(){\n"
                   f'  const char* paths[] = {{"{key}", "{key}.gch", "{pch.SANDBOX_DIR}/evil.h.gch"}};\n'
                   "  int opened = 0;\n"
                   "  for (const char* p : paths) { FILE* f = fopen(p, \"w\"); if (f) { opened++; fputs(\"#error\", f); fclose(f); } }\n"
                   "  printf(\"%d\\n\", opened); }\n")
    result = box.execute("cpp", hostile_cpp)
    assert result.status is ExecStatus.ok and result.stdout.strip() == "0", result
    hostile_py = (f"import os\nfor p in {key + '.gch'!r}, {key!r}:\n"
                  "    for attempt in (lambda: open(p, 'r+b'), lambda: os.unlink(p), lambda: os.chmod(p, 0o666),\n"
                  "                    lambda: os.rename(p, p + '.x')):\n"
                  "        try:\n            attempt()\n            print('tampered', p)\n"
                  "        except OSError:\n            pass\n")
    result = box.execute("python", hostile_py)
    assert result.status is ExecStatus.ok and "tampered" not in result.stdout, result
    after = {name: _digest(os.path.join(directory, name)) for name in os.listdir(directory) if name.endswith(".h.gch")}
    assert after == before
    report = run_tests("cpp", SCALE, [CodeTest(test_code=SCALE_TEST)], sandbox=box)
    assert report.passed == 1, report
    assert "pch" not in (report.compile.stderr if report.compile else ""), report.compile


UNUSUAL = {
    "no includes": "int main(){ return 0; }",
    "a define before the headers": "#define _GLIBCXX_DEBUG\n#include <vector>\n#include <string>\n#include <algorithm>\n"
                                   "int main(){ std::vector<int> v(2); return v.size() - 2; }",
    "a global the math headers would clash with": "#include <cstdio>\nint y1 = 0, j0 = 1;\nint main(){ return y1; }",
    "extension headers": HUMANEVAL_HEADERS + "#include <ext/pb_ds/assoc_container.hpp>\n#include <ext/pb_ds/tree_policy.hpp>\n"
                         "using namespace __gnu_pbds;\ntree<int, null_type, less<int>, rb_tree_tag, "
                         "tree_order_statistics_node_update> t;\nint main(){ t.insert(3); return t.order_of_key(4) - 1; }",
    "a C header by its C++ name after the block": SCALE + "#include <climits>\n#include <map>\n"
                                                  "int main(){ map<int,int> m; m[1] = INT_MAX; return scale({1})[0] - 3; }",
    "its own macro between includes": "#include <vector>\n#define N 5\n#include <string>\n#include <algorithm>\n"
                                      "int main(){ std::vector<int> v(N); return v.size() - N; }",
}


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_programs_with_unusual_includes_still_build_and_run(box, name):
    report = run_tests("cpp", UNUSUAL[name], [StdioTest(stdin="", expected_stdout="")], sandbox=box)
    assert report.passed == 1, (report.compile, report.results)


def test_a_missing_include_is_still_a_compile_error(box):
    # The headers of a precompiled header are never added to a program that did not include them.
    result = box.execute("cpp", "#include <cstdio>\nint main(){ std::vector<int> v; return v.size(); }")
    assert result.status is ExecStatus.compile_error


JAVA_ITEM = ("import java.util.*;\nclass Solution {\n    public int twice(int x) { return 2 * x; }\n}\n",
             "public class Main {\n    public static void main(String[] args) {\n"
             "        if (new Solution().twice(21) != 42) throw new AssertionError();\n    }\n}\n")


def test_javac_uses_its_class_archive_which_programs_cannot_touch(box):
    if missing_toolchain(LANGUAGES["java"]):
        pytest.skip(missing_toolchain(LANGUAGES["java"]))
    assert pch.build(pch.JAVAC_ARCHIVE)
    (flag,) = pch.javac_flags(box.pch_bound)
    archive = flag.split("=", 1)[1]
    host_path = os.path.join(pch.host_dir(), os.path.basename(archive))
    before = _digest(host_path)
    hostile = ("import java.io.*;\npublic class Main {\n    public static void main(String[] a) {\n"
               "        int written = 0;\n"
               f'        for (String p : new String[]{{"{archive}", "{pch.SANDBOX_DIR}/other.jsa"}}) {{\n'
               "            try (FileOutputStream f = new FileOutputStream(p)) { f.write(1); written++; }\n"
               "            catch (IOException e) { }\n        }\n"
               "        System.out.println(written);\n    }\n}\n")
    result = box.execute("java", hostile)
    assert result.status is ExecStatus.ok and result.stdout.strip() == "0", result
    assert _digest(host_path) == before
    good = run_tests("java", JAVA_ITEM[0], [CodeTest(test_code=JAVA_ITEM[1])], sandbox=box)
    wrong = run_tests("java", JAVA_ITEM[0].replace("2 * x", "3 * x"), [CodeTest(test_code=JAVA_ITEM[1])], sandbox=box)
    assert (good.passed, wrong.passed) == (1, 0), (good, wrong)
    assert good.compile is not None and good.compile.stderr == ""
