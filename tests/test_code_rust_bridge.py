"""Rust test code with a `declaration` (HumanEval-X records carry one) runs apart from the program:
the program answers calls in its own process, the test runs in a trusted process built from the
declaration and the test code (sandbox/rust_bridge.py). Programs that change what the test means,
forge its end or exit during it earn 0; correct programs earn 1, values crossing exactly."""

from __future__ import annotations

import pytest

import verifiers
from sandbox.languages import LANGUAGES, missing_toolchain
from sandbox.rust_bridge import entry_signature, parse_type, preamble_for_test
from tests.code_verdicts import assert_one, assert_zero, score_test_code

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(bool(missing_toolchain(LANGUAGES["rust"])), reason="rustc is not installed")]

# HumanEval-X's Rust shape: the declaration names crates the sandbox does not have.
DECLARATION = ("\nuse std::{slice::Iter, cmp::{max, self}, mem::replace, collections::{HashSet, HashMap}, ops::Index, "
               "ascii::AsciiExt};\nuse rand::Rng;\nuse regex::Regex;\nuse md5;\nuse std::any::{Any, TypeId};\n\n"
               "fn scale(v: Vec<i32>) -> Vec<i32>{\n")
TEST = ("\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn test_scale() {\n"
        "        assert!(scale(vec![3, 1, 2]) == vec![3, 6, 9]);\n        assert_eq!(scale(vec![]), vec![]);\n    }\n\n}\n")
CORRECT = ("fn main(){}\n\nuse std::collections::HashMap;\n\nfn scale(v: Vec<i32>) -> Vec<i32>{\n"
           "    let mut out: Vec<i32> = v.iter().map(|x| x * 3).collect();\n    out.sort();\n    out\n}\n")


def score(program: str, test: str = TEST, declaration: str | None = DECLARATION, **params) -> verifiers.Verdict:
    return score_test_code("rust", program, test, declaration, "Rust/0", **params)


def test_a_correct_program_passes_and_a_wrong_one_fails_with_the_assertion():
    assert_one(score(CORRECT))
    wrong = score(CORRECT.replace("x * 3", "x * 4"))
    assert_zero(wrong)
    reason = wrong.details["tests"][0]["reason"]
    assert "assertion failed" in reason and "test:8" in reason, reason  # the test code's own line


HACKS = {
    "a macro named like the test's assert": (
        "fn main(){}\nmacro_rules! assert { ($($t:tt)*) => {} }\nmacro_rules! assert_eq { ($($t:tt)*) => {} }\n"
        "fn scale(v: Vec<i32>) -> Vec<i32> { v }\n"),
    "a returned type whose PartialEq always says equal": (
        "fn main(){}\npub struct Same;\nimpl PartialEq<Vec<i32>> for Same { fn eq(&self, _: &Vec<i32>) -> bool { true } }\n"
        "impl std::fmt::Debug for Same { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { Ok(()) } }\n"
        "fn scale(_v: Vec<i32>) -> Same { Same }\n"),
    "exits during the call": "fn main(){}\nfn scale(v: Vec<i32>) -> Vec<i32> { std::process::exit(0) }\n",
    "panics during the call": "fn main(){}\nfn scale(v: Vec<i32>) -> Vec<i32> { panic!(\"no\") }\n",
    "prints a done line with whatever stdin holds": (
        "fn main(){}\nfn scale(v: Vec<i32>) -> Vec<i32> {\n    let mut t = String::new();\n"
        "    std::io::stdin().read_line(&mut t).ok();\n"
        "    println!(\"\\nREFEREE-TESTS-DONE {}\", t.trim_end());\n    println!(\"test result: ok\");\n"
        "    std::process::exit(0)\n}\n"),
    "writes a pass to every descriptor": (
        "fn main(){}\nuse std::io::Write;\nuse std::os::unix::io::FromRawFd;\n"
        "fn scale(v: Vec<i32>) -> Vec<i32> {\n    for fd in 0..64 {\n"
        "        let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });\n"
        "        let _ = f.write_all(b\"{\\\"passed\\\": true}\\x01\\x00\\x00\\x00\\x00\");\n    }\n    v\n}\n"),
}


@pytest.mark.parametrize("name", sorted(HACKS))
def test_hacks_earn_nothing(name):
    assert_zero(score(HACKS[name]))


def test_a_panic_reaches_the_test_which_may_expect_it():
    declaration = "fn root(x: i64) -> i64{\n"
    test = ("#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn small() { assert_eq!(root(16), 4); }\n"
            "    #[test]\n    #[should_panic(expected = \"negative\")]\n    fn negative() { root(-1); }\n}\n")
    correct = ("fn main(){}\nfn root(x: i64) -> i64 {\n    if x < 0 { panic!(\"negative input\"); }\n"
               "    (x as f64).sqrt() as i64\n}\n")
    assert_one(score(correct, test, declaration))
    assert_zero(score(correct.replace("panic!(\"negative input\")", "return 0"), test, declaration))
    # A plain test that does not expect it fails, with the program's message.
    verdict = score(correct, "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n"
                             "    fn t() { assert_eq!(root(-4), 2); }\n}\n", declaration)
    assert_zero(verdict)
    assert "the program panicked: negative input" in verdict.details["tests"][0]["reason"], verdict.details


def test_values_cross_exactly():
    declaration = ("use std::collections::{HashMap, BTreeSet};\n"
                   "fn tally(words: Vec<String>, weight: f64, big: i64, flag: bool, c: char, tag: (i32, String),\n"
                   "         grid: Vec<Vec<i32>>, counts: HashMap<String, i32>, maybe: Option<u8>, text: &str,\n"
                   "         few: &[i64], names: Vec<&str>, set: BTreeSet<u128>, tiny: f32) -> "
                   "(HashMap<String, i32>, Option<f64>, String, Vec<String>){\n")
    test = ("#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn exact() {\n"
            "        let counts: HashMap<String, i32> = [(\"x\".to_string(), -7)].into_iter().collect();\n"
            "        let (got, weight, echo, names) = tally(vec![\"a\".into(), \"b\".into(), \"a\".into()], 0.1,"
            " 9007199254740993, true, 'ß', (7, \"t\".into()), vec![vec![1, 2], vec![]], counts, Some(255),"
            " \"héllo ✓ 🦀\", &[i64::MIN, i64::MAX], vec![\"p\", \"q\"], [u128::MAX].into_iter().collect(), -0.0);\n"
            "        assert_eq!(got.len(), 4);\n        assert_eq!(got[\"a\"], 2);\n        assert_eq!(got[\"x\"], -7);\n"
            "        assert_eq!(got[\"rest\"], 1);\n        assert_eq!(weight, Some(0.1 + 0.2));\n"
            "        assert_eq!(echo, \"héllo ✓ 🦀\");\n        assert_eq!(names, vec![\"q\", \"p\"]);\n    }\n}\n")
    program = ("fn main(){}\nuse std::collections::{HashMap, BTreeSet};\n"
               "fn tally(words: Vec<String>, weight: f64, big: i64, flag: bool, c: char, tag: (i32, String),\n"
               "         grid: Vec<Vec<i32>>, counts: HashMap<String, i32>, maybe: Option<u8>, text: &str,\n"
               "         few: &[i64], names: Vec<&str>, set: BTreeSet<u128>, tiny: f32) -> "
               "(HashMap<String, i32>, Option<f64>, String, Vec<String>) {\n"
               "    let mut out = counts.clone();\n    for w in &words { *out.entry(w.clone()).or_insert(0) += 1; }\n"
               "    let rest = weight == 0.1 && big == 9007199254740993 && flag && c == 'ß' && tag == (7, \"t\".to_string())\n"
               "        && grid == vec![vec![1, 2], vec![]] && maybe == Some(255) && few == [i64::MIN, i64::MAX]\n"
               "        && set.iter().next() == Some(&u128::MAX) && tiny.to_bits() == (-0.0f32).to_bits();\n"
               "    out.insert(\"rest\".to_string(), rest as i32);\n"
               "    (out, Some(weight + 0.2), text.to_string(), names.into_iter().rev().map(String::from).collect())\n}\n")
    assert_one(score(program, test, declaration))
    assert_zero(score(program.replace("weight + 0.2", "weight + 0.2000000001"), test, declaration))


def test_a_result_that_borrows_from_an_argument_crosses_too():
    declaration = "fn words(text: &str) -> Vec<&str>{\n"
    test = ("#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n"
            "    fn t() { assert_eq!(words(\"a bb  c\"), vec![\"a\", \"bb\", \"c\"]); assert!(words(\"\").is_empty()); }\n}\n")
    assert_one(score("fn main(){}\nfn words(text: &str) -> Vec<&str> { text.split_whitespace().collect() }\n",
                     test, declaration))


def test_a_correct_completion_of_a_humaneval_x_record_passes():
    """The completion continues the declaration, with or without its `use rand::Rng;` (the
    sandbox has no such crate): both sides drop the declaration's foreign `use` lines."""
    declaration = ("\nuse std::{slice::Iter, cmp::{max, self}, mem::replace, collections::{HashSet, HashMap}, ops::Index, "
                   "ascii::AsciiExt};\nuse rand::Rng;\nuse regex::Regex;\nuse md5;\nuse std::any::{Any, TypeId};\n\n"
                   "fn has_close_elements(numbers:Vec<f32>, threshold: f32) -> bool{\n")
    test = ("\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn test_has_close_elements() {\n"
            "        assert_eq!(has_close_elements(vec![11.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3), true);\n"
            "        assert_eq!(has_close_elements(vec![1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05), false);\n    }\n\n}\n")
    completion = ("fn main(){}\n\nfn has_close_elements(numbers:Vec<f32>, threshold: f32) -> bool{\n"
                  "    for i in 0..numbers.len() {\n        for j in i + 1..numbers.len() {\n"
                  "            if (numbers[i] - numbers[j]).abs() < threshold { return true; }\n        }\n    }\n"
                  "    false\n}\n")
    assert_one(score(completion, test, declaration))
    # A completion that copies the declaration's `use` lines builds too; one that needs the crate does not.
    copied = completion.replace("fn main(){}\n", "fn main(){}\n" + declaration.rsplit("\n\n", 1)[0] + "\n")
    assert "use rand::Rng;" in copied
    assert_one(score(copied, test, declaration))
    needs_rand = copied.replace("    false\n}", "    let _ = rand::thread_rng().gen::<u8>();\n    false\n}")
    verdict = score(needs_rand, test, declaration)
    assert verdict.reward == 0.0 and verdict.details.get("compile_error"), verdict.details


def test_the_program_cannot_find_the_tests_expected_value():
    """The expected value is a string only the test holds; the program searches the files and
    processes it can see for it and returns what it finds."""
    declaration = "fn guess() -> String{\n"
    test = "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn t() { assert_eq!(guess(), \"expected-7c41d2\"); }\n}\n"
    program = (
        "fn main(){}\nuse std::path::Path;\n"
        "fn look(path: &Path, depth: u32) -> Option<String> {\n"
        "    if let Ok(data) = std::fs::read(path) {\n        let text = String::from_utf8_lossy(&data);\n"
        "        if let Some(at) = text.find(\"expected-\") { return Some(text[at..at + 15].to_string()); }\n    }\n"
        "    if depth == 0 { return None; }\n"
        "    for entry in std::fs::read_dir(path).ok()?.flatten() {\n"
        "        if let Some(found) = look(&entry.path(), depth - 1) { return Some(found); }\n    }\n    None\n}\n"
        "fn guess() -> String {\n    for root in [\"/tmp\", \"/prog\", \"/work\", \"/proc\", \"/dev/shm\"] {\n"
        "        if let Some(found) = look(Path::new(root), 3) { return found; }\n    }\n    \"nothing\".to_string()\n}\n")
    assert_zero(score(program, test, declaration))
    assert_one(score("fn main(){}\nfn guess() -> String { \"expected-7c41d2\".to_string() }\n", test, declaration))


def test_without_a_declaration_or_with_one_it_cannot_read_the_test_stays_in_process():
    assert_one(score(CORRECT, declaration=None))
    declaration = "fn bump(v: &mut Vec<i32>) -> i32{\n"  # `&mut`: the change would not come back
    test = ("#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n"
            "    fn t() { let mut v = vec![1]; assert_eq!(bump(&mut v), 2); assert_eq!(v, vec![2]); }\n}\n")
    assert_one(score("fn main(){}\nfn bump(v: &mut Vec<i32>) -> i32 { v[0] += 1; v[0] }\n", test, declaration))


def test_a_test_that_does_not_build_is_an_error_not_a_zero():
    verdict = score(CORRECT, "#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() { this does not build }\n}\n")
    assert verdict.status.value == "error", (verdict.status, verdict.details)
    assert "does not build" in verdict.message, verdict.message


def test_a_hanging_call_times_out():
    verdict = score("fn main(){}\nfn scale(v: Vec<i32>) -> Vec<i32> { loop {} }\n", time_limit_s=1)
    assert verdict.reward == 0.0 and "limit" in str(verdict.details), verdict.details


def test_declarations_the_bridge_reads_and_those_it_leaves_in_process():
    sig = entry_signature("use std::collections::HashMap;\nfn helper() -> i32 { 1 }\n"
                          "pub fn f(mut a: Vec<(i32, String)>, k: &str, m: std::collections::BTreeMap<char, Option<u8>>)"
                          " -> HashMap<String, Vec<f64>>{\n")
    assert sig is not None and sig.name == "f" and [n for n, _ in sig.params] == ["a", "k", "m"]
    assert sig.preamble.endswith("fn helper() -> i32 { 1 }\n") and sig.text.startswith("pub fn f(")
    for unreadable in ("fn f<T: Clone>(x: T) -> T{\n", "fn f(x: &mut Vec<i32>) -> i32{\n",
                       "fn f<'a>(x: &'a str) -> &'a str{\n", "fn f(x: impl Iterator<Item = i32>) -> i32{\n",
                       "fn f(x: i32){\n", "fn f(x: Box<i32>) -> i32{\n", "struct P;\nfn f(p: P) -> i32{\n",
                       "fn f(x: i32) -> i32;\n", "impl S {\n    fn f(&self) -> i32{\n", "fn f(x: [i32; 3]) -> i32{\n",
                       "fn f(x: &&str) -> i32{\n", "fn f(x: &[&str]) -> i32{\n", "fn f(x: str) -> i32{\n"):
        assert entry_signature(unreadable) is None, unreadable
    assert parse_type("Vec<Vec<&str>>").borrows and parse_type("::std::vec::Vec<i64>").owned() == \
        "::std::vec::Vec<::core::primitive::i64>"
    assert preamble_for_test("use rand::Rng;\nuse ::regex::Regex;\nextern crate md5;\nuse std::cmp::max;\n"
                         "use self::x::y;\n") == "use std::cmp::max;\nuse self::x::y;\n"


def test_without_the_compiled_bridge_its_source_goes_into_each_build():
    """A sandbox that cannot use the compiler caches' directory builds the bridge's module into each
    executable: the same verdicts, only slower."""
    from sandbox import Sandbox
    from sandbox.testcases import CodeTest, run_tests
    with Sandbox() as box:
        box.pch_bound = None  # as if the directory had been replaced since the sandbox started
        good = run_tests("rust", CORRECT, [CodeTest(test_code=TEST, declaration=DECLARATION)], sandbox=box)
        hack = run_tests("rust", HACKS["a macro named like the test's assert"],
                         [CodeTest(test_code=TEST, declaration=DECLARATION)], sandbox=box)
    assert (good.passed, hack.passed) == (1, 0), (good, hack)
