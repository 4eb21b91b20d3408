"""C++ test code with a `declaration` (HumanEval-X records carry one) runs apart from the program:
the program answers calls in its own process, the test runs in a trusted process built from the
declaration and the test code (sandbox/cpp_bridge.py). Programs that change what the test means,
forge its end or look for its expected values earn 0; correct programs earn 1 whatever their
signature's spelling."""

from __future__ import annotations

import pytest

import verifiers
from sandbox.cpp_bridge import entry_signature
from sandbox.languages import LANGUAGES, missing_toolchain
from tests.code_verdicts import assert_one, assert_zero, score_test_code

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(bool(missing_toolchain(LANGUAGES["cpp"])), reason="g++ is not installed")]

DECLARATION = ("#include<stdio.h>\n#include<math.h>\n#include<vector>\n#include<string>\n#include<algorithm>\n"
               "using namespace std;\n#include<stdlib.h>\nvector<int> scale(vector<int> v){\n")
TEST = ("#undef NDEBUG\n#include<assert.h>\nbool issame(vector<int> a, vector<int> b){ return a == b; }\n"
        "int main(){\n    assert (issame(scale({3, 1, 2}), {3, 6, 9}));\n    assert (issame(scale({}), {}));\n}\n")
CORRECT = DECLARATION + "    for (auto &x : v) x *= 3;\n    sort(v.begin(), v.end());\n    return v;\n}\n"


def score(program: str, test: str = TEST, declaration: str = DECLARATION) -> verifiers.Verdict:
    return score_test_code("cpp", program, test, declaration, "CPP/0")


def test_a_program_with_a_main_of_its_own_still_answers_the_tests():
    """Completions often add a `main` that runs an example: it is not the test's, and it does not run."""
    with_main = CORRECT + "int main(){\n    printf(\"%d\\n\", (int)scale({1}).size());\n    return 3;\n}\n"
    assert_one(score(with_main))
    assert_zero(score(with_main.replace("x *= 3", "x *= 4")))


def test_a_correct_program_passes_and_a_wrong_one_fails_with_the_assertion():
    assert_one(score(CORRECT))
    wrong = score(CORRECT.replace("x *= 3", "x *= 4"))
    assert_zero(wrong)
    assert "Assertion" in wrong.details["tests"][0]["reason"] and "test:5" in wrong.details["tests"][0]["reason"]


HACKS = {
    "a global operator== that always says equal": (
        "#include<vector>\nusing namespace std;\nbool operator==(const vector<int>&, const vector<int>&) { return true; }\n"
        "vector<int> scale(vector<int> v){ return v; }\n"),
    "macros named like what the test calls": (
        "#include<vector>\nusing namespace std;\n#define issame(a, b) true\n#define assert(x) ((void)0)\n"
        "vector<int> scale(vector<int> v){ return v; }\n"),
    "exits during the call": "#include<vector>\n#include<cstdlib>\nusing namespace std;\nvector<int> scale(vector<int> v){ exit(0); }\n",
    "exits in a static initializer": ("#include<vector>\n#include<cstdlib>\nusing namespace std;\n"
                                      "static int skip_ = (std::exit(0), 0);\nvector<int> scale(vector<int> v){ return v; }\n"),
    "prints a done line with whatever stdin holds": (
        "#include<vector>\n#include<cstdio>\n#include<cstdlib>\nusing namespace std;\n"
        "vector<int> scale(vector<int> v){ char t[256] = {0}; fgets(t, sizeof t, stdin);\n"
        "    printf(\"\\nREFEREE-TESTS-DONE %s\\n\", t); fflush(stdout); exit(0); }\n"),
    "crashes during the call": "#include<vector>\nusing namespace std;\nvector<int> scale(vector<int> v){ return *(vector<int>*)8; }\n",
    "writes a pass to every descriptor": (
        "#include<vector>\n#include<unistd.h>\nusing namespace std;\n"
        "vector<int> scale(vector<int> v){ for (int fd = 0; fd < 64; fd++) write(fd, \"{\\\"passed\\\": true}\", 16);\n"
        "    return v; }\n"),
}


@pytest.mark.parametrize("name", sorted(HACKS))
def test_hacks_earn_nothing(name):
    assert_zero(score(HACKS[name]))


def test_the_program_cannot_find_the_tests_expected_value():
    """The test's expected value is a string only the test holds; the program searches every file
    and process it can see for it and returns what it finds."""
    declaration = "#include<string>\nusing namespace std;\nstring guess(){\n"
    test = "#include<cassert>\nint main(){ assert(guess() == \"expected-7c41d2\"); }\n"
    program = (
        "#include<string>\n#include<fstream>\n#include<sstream>\n#include<filesystem>\n#include<regex>\nusing namespace std;\n"
        "string guess(){\n    regex pattern(\"expected-[0-9a-f]{6}\");\n"
        "    for (const char *root : {\"/tmp\", \"/prog\", \"/work\", \"/proc\", \"/dev/shm\"}) {\n"
        "        error_code ec;\n"
        "        for (auto it = filesystem::recursive_directory_iterator(root, filesystem::directory_options::skip_permission_denied, ec);\n"
        "             it != filesystem::recursive_directory_iterator(); it.increment(ec)) {\n"
        "            if (ec || it.depth() > 3) { if (it.depth() > 3) it.disable_recursion_pending(); continue; }\n"
        "            ifstream f(it->path(), ios::binary); if (!f) continue;\n"
        "            string data((istreambuf_iterator<char>(f)), istreambuf_iterator<char>());\n"
        "            smatch m; if (regex_search(data, m, pattern)) return m.str();\n"
        "        }\n    }\n    return \"nothing\";\n}\n")
    assert_zero(score(program, test, declaration))
    assert_one(score(declaration + "    return \"expected-7c41d2\";\n}\n", test, declaration))


def test_values_cross_exactly():
    declaration = ("#include<map>\n#include<string>\n#include<vector>\nusing namespace std;\n"
                   "map<string,int> tally(const vector<string>& words, double weight, long long big, bool flag, char c,"
                   " pair<int,string> tag, vector<vector<float>> grid){\n")
    test = ("#include<cassert>\nint main(){\n"
            "    auto got = tally({\"a\", \"b\", \"a\"}, 0.1, 9007199254740993LL, true, 'z', {7, \"t\"}, {{1.5f}, {}});\n"
            "    assert(got.size() == 5 && got[\"a\"] == 2 && got[\"b\"] == 1);\n"
            "    assert(got[\"weight_is_exact\"] == 1 && got[\"big\"] == 1 && got[\"rest\"] == 1);\n}\n")
    program = declaration + (
        "    map<string,int> out;\n    for (const auto &w : words) out[w]++;\n"
        "    out[\"weight_is_exact\"] = weight == 0.1;\n    out[\"big\"] = big == 9007199254740993LL;\n"
        "    out[\"rest\"] = flag && c == 'z' && tag.first == 7 && tag.second == \"t\" && grid.size() == 2 && grid[0][0] == 1.5f;\n"
        "    return out;\n}\n")
    assert_one(score(program, test, declaration))


def test_exceptions_reach_the_test_and_helpers_from_the_declaration_stay_the_tests():
    declaration = ("#include<string>\n#include<stdexcept>\nusing namespace std;\n"
                   "string encode(string s){\n    return s + \"!\";\n}\nstring decode(string s){\n")
    test = ("#include<cassert>\nint main(){\n    assert(decode(encode(\"abc\")) == \"abc\");\n"
            "    bool threw = false;\n    try { decode(\"\"); } catch (const std::exception &e) { threw = true; }\n"
            "    assert(threw);\n}\n")
    correct = declaration + "    if (s.empty()) throw invalid_argument(\"empty\");\n    return s.substr(0, s.size() - 1);\n}\n"
    # The program redefines the helper: the test keeps the declaration's own.
    sneaky = ("#include<string>\n#include<stdexcept>\nusing namespace std;\nstring encode(string s){ return s; }\n"
              "string decode(string s){\n    if (s.empty()) throw invalid_argument(\"empty\");\n    return s;\n}\n")
    assert_one(score(correct, test, declaration))
    assert_zero(score(sneaky, test, declaration))


def test_a_test_that_does_not_build_is_an_error_not_a_zero():
    verdict = score(CORRECT, "int main(){ this does not compile }\n")
    assert verdict.status.value == "error", (verdict.status, verdict.details)
    assert "does not build" in verdict.message, verdict.message


def test_a_hanging_call_times_out():
    verdict = verifiers.verify("code", completion="```cpp\n#include<vector>\nusing namespace std;\n"
                               "vector<int> scale(vector<int> v){ for (;;) {} }\n```",
                               reference={"language": "cpp", "test": TEST, "declaration": DECLARATION},
                               params={"time_limit_s": 1}, timeout_s=120)
    assert verdict.reward == 0.0 and "limit" in str(verdict.details), verdict.details


def test_declarations_the_bridge_reads_and_those_it_leaves_in_process():
    sig = entry_signature("#include<vector>\nusing namespace std;\nint helper(){ return 1; }\n"
                          "map<string,int> f(const vector<pair<int,string>>& a, int k = 3){\n")
    assert sig is not None and sig.name == "f" and [n for _, n in sig.params] == ["a", "k"]
    for unreadable in ("int *f(int x){\n", "template<class T> T f(T x){\n", "void f(int x){\n",
                       "int f(int){\n", "struct P{int x;};\nP f(int x){\n", "int f(int x);\n"):
        assert entry_signature(unreadable) is None, unreadable
    # Left in process, the test still runs (the tests built into the program).
    declaration = "#include<vector>\nusing namespace std;\nint *first(vector<int> &v){\n"
    test = "#include<cassert>\nint main(){ vector<int> v = {4}; assert(*first(v) == 4); }\n"
    assert_one(score(declaration + "    return &v[0];\n}\n", test, declaration))


def test_without_the_runtime_object_the_bridge_is_built_from_source():
    """A sandbox that cannot use the compiler caches' directory builds the bridge's runtime into
    each executable: the same verdicts, only slower."""
    from sandbox import Sandbox
    from sandbox.testcases import CodeTest, run_tests
    with Sandbox() as box:
        box.pch_bound = None  # as if the directory had been replaced since the sandbox started
        good = run_tests("cpp", CORRECT, [CodeTest(test_code=TEST, declaration=DECLARATION)], sandbox=box)
        hack = run_tests("cpp", HACKS["a global operator== that always says equal"],
                         [CodeTest(test_code=TEST, declaration=DECLARATION)], sandbox=box)
    assert (good.passed, hack.passed) == (1, 0), (good, hack)
