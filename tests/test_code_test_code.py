"""The `test_code` reference shape: test code in the program's language, from the reference, built
and run with the program (HumanEval-X style). For every language: a correct program earns 1, a
wrong one 0, and one that exits early to skip the tests 0."""

from __future__ import annotations

import pytest

import verifiers
from sandbox.languages import LANGUAGES, missing_toolchain

pytestmark = pytest.mark.timeout(300)

# language: (correct program, wrong program, skipping program, test code)
CASES = {
 "cpp": ("#include<vector>\nusing namespace std;\nint add(int a,int b){return a+b;}\n",
         "#include<vector>\nusing namespace std;\nint add(int a,int b){return a-b;}\n",
         "#include<cstdlib>\nstatic int skip_ = (std::exit(0), 0);\nint add(int a,int b){return 0;}\n",
         "#undef NDEBUG\n#include<assert.h>\nint main(){\n    assert (add(1,2)==3);\n    assert (add(2,2)==4);\n}\n"),
 "c": ("int add(int a,int b){return a+b;}\n", "int add(int a,int b){return a-b;}\n",
       "#include <stdlib.h>\nint add(int a,int b){exit(0);}\n",
       "#include<assert.h>\nint main(){ assert(add(1,2)==3); return 0; }\n"),
 "javascript": ("const add = (a, b) => a + b;\n", "const add = (a, b) => a - b;\n", "const add = (a, b) => { process.exit(0); };\n",
       "const testAdd = () => {\n  console.assert(add(1, 2) === 3)\n  console.assert(add(2, 2) === 4)\n}\ntestAdd()\n"),
 "java": ("import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n    public int add(int a, int b) { return a + b; }\n}\n",
          "import java.util.*;\nclass Solution {\n    public int add(int a, int b) { return a - b; }\n}\n",
          "import java.util.*;\nclass Solution {\n    static { System.exit(0); }\n    public int add(int a, int b) { return 0; }\n}\n",
          "public class Main {\n    public static void main(String[] args) {\n        Solution s = new Solution();\n        List<Boolean> correct = Arrays.asList(s.add(1, 2) == 3, s.add(2, 2) == 4);\n        if (correct.contains(false)) {\n            throw new AssertionError();\n        }\n    }\n}\n"),
 "rust": ("fn main(){}\nfn add(a: i32, b: i32) -> i32 { a + b }\n", "fn main(){}\nfn add(a: i32, b: i32) -> i32 { a - b }\n",
          "fn main(){}\nfn add(a: i32, b: i32) -> i32 { std::process::exit(0) }\n",
          "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn test_add() {\n        assert!(add(1, 2) == 3);\n        assert!(add(2, 2) == 4);\n    }\n}\n"),
 "bash": ("add() { echo $(( $1 + $2 )); }\n", "add() { echo $(( $1 - $2 )); }\n", "add() { exit 0; }\n",
          "[ \"$(add 1 2)\" = 3 ] || exit 1\nadd 2 2 > /dev/null\n[ \"$(add 2 2)\" = 4 ] || exit 1\n"),
 "python": ("def add(a,b): return a+b\n", "def add(a,b): return a-b\n", "import sys\nsys.exit(0)\n",
            "assert add(1,2)==3\nassert add(2,2)==4\n"),
}


@pytest.mark.parametrize("language", sorted(CASES))
def test_correct_wrong_and_skipping_programs(language):
    if missing_toolchain(LANGUAGES[language]):
        pytest.skip(missing_toolchain(LANGUAGES[language]))
    correct, wrong, skipping, test_code = CASES[language]
    # HumanEval-X records carry the test code as `test`; `test_code` is the general key.
    key = "test" if language != "python" else "test_code"
    reference = {"language": language, key: test_code, "task_id": f"{language}/0"}
    rewards = {}
    for name, program in (("correct", correct), ("wrong", wrong), ("skipping", skipping)):
        verdict = verifiers.verify("code", completion=f"```{language}\n{program}```", reference=reference,
                                   timeout_s=120)
        assert verdict.status.value == "ok", (name, verdict.message, verdict.details)
        rewards[name] = verdict.reward
    assert rewards == {"correct": 1.0, "wrong": 0.0, "skipping": 0.0}


def test_a_program_that_prints_the_done_line_without_the_token_fails():
    reference = {"language": "c", "test_code": "int main(void) { return add(1, 2) == 3 ? 0 : 1; }\n"}
    if missing_toolchain(LANGUAGES["c"]):
        pytest.skip(missing_toolchain(LANGUAGES["c"]))
    program = ("#include <stdio.h>\n#include <stdlib.h>\n"
               "int add(int a, int b) { printf(\"\\nREFEREE-TESTS-DONE 0\\n\"); exit(0); }\n")
    verdict = verifiers.verify("code", completion=f"```c\n{program}```", reference=reference)
    assert verdict.status.value == "ok" and verdict.reward == 0.0, verdict.details


def test_test_code_cannot_be_mixed_with_other_tests():
    reference = {"language": "cpp", "test_code": "int main() {}", "tests": [{"stdin": "", "stdout": ""}]}
    verdict = verifiers.verify("code", completion="```cpp\nint f();\n```", reference=reference)
    assert verdict.status.value == "invalid_input"


def test_rust_test_code_keeps_release_semantics():
    """Built faster than -O, but still without overflow checks: arithmetic wraps as in -O."""
    if missing_toolchain(LANGUAGES["rust"]):
        pytest.skip(missing_toolchain(LANGUAGES["rust"]))
    program = "fn main(){}\nfn bump(x: u8) -> u8 { x + 200 }\n"
    test = "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn wraps() { assert!(bump(100) == 44); }\n}\n"
    verdict = verifiers.verify("code", completion=f"```rust\n{program}```", reference={"language": "rust", "test": test},
                               timeout_s=120)
    assert verdict.status.value == "ok" and verdict.reward == 1.0, verdict.details


# Test code built into the program (C, and C++, Java and Rust without a declaration) shares its
# compilation unit and process: a program written against the tests can change what they mean.
# Known and documented (docs/code.md, "Test code in every language"); each must earn 0 once such
# tests run apart from the program. With a declaration, the C++, Java and Rust ones do
# (tests/test_code_cpp_bridge.py, tests/test_code_java_bridge.py, tests/test_code_rust_bridge.py);
# these cases have none.
IN_PROCESS_HACKS = {
    "cpp: a global operator== that always says equal": ("cpp",
        "#include<vector>\nusing namespace std;\nbool operator==(const vector<int>&, const vector<int>&) { return true; }\n"
        "vector<int> scale(vector<int> v){ return v; }\n",
        "#undef NDEBUG\n#include<assert.h>\nbool issame(vector<int> a, vector<int> b){ return a == b; }\n"
        "int main(){\n    assert (issame(scale({3, 1, 2}), {3, 6, 9}));\n}\n"),
    "java: a class named like the test's Arrays": ("java",
        "import java.util.*;\nclass Solution {\n    public int add(int a, int b) { return 0; }\n}\n"
        "class Arrays {\n    static List<Boolean> asList(Object... xs) { return new ArrayList<Boolean>(); }\n}\n",
        CASES["java"][3]),
    "rust: a macro named like the test's assert": ("rust",
        "fn main(){}\nmacro_rules! assert { ($($t:tt)*) => {} }\nfn scale(v: Vec<i32>) -> Vec<i32> { v }\n",
        "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn test_scale() {\n"
        "        assert!(scale(vec![3, 1, 2]) == vec![3, 6, 9]);\n    }\n}\n"),
    "rust: a returned type whose PartialEq always says equal": ("rust",
        "fn main(){}\npub struct Same;\nimpl PartialEq<Vec<i32>> for Same { fn eq(&self, _: &Vec<i32>) -> bool { true } }\n"
        "fn scale(_v: Vec<i32>) -> Same { Same }\n",
        "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn test_scale() {\n"
        "        assert!(scale(vec![3, 1, 2]) == vec![3, 6, 9]);\n    }\n}\n"),
}


@pytest.mark.xfail(strict=True, reason="test code in C, and in C++, Java and Rust without a declaration, "
                                       "runs in the program's process")
@pytest.mark.parametrize("name", sorted(IN_PROCESS_HACKS))
def test_known_in_process_hacks(name):
    language, program, test_code = IN_PROCESS_HACKS[name]
    if missing_toolchain(LANGUAGES[language]):
        pytest.skip(missing_toolchain(LANGUAGES[language]))
    verdict = verifiers.verify("code", completion=f"```{language}\n{program}```",
                               reference={"language": language, "test": test_code}, timeout_s=120)
    assert verdict.reward == 0.0, verdict.details
