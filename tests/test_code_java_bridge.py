"""Java test code with a `declaration` (HumanEval-X records carry one) runs apart from the program:
the program answers calls in its own JVM, the test runs in a trusted JVM built from the
declaration and the test code (sandbox/java_bridge.py), and gets the program's results back as
JDK types. Programs that change what the test means, forge its end or look for its expected
values earn 0; correct programs earn 1."""

from __future__ import annotations

import pytest

import verifiers
from sandbox.java_bridge import entry_signature, parse_type
from sandbox.languages import LANGUAGES, missing_toolchain
from tests.code_verdicts import assert_one, assert_zero, score_test_code

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(bool(missing_toolchain(LANGUAGES["java"])), reason="the JDK is not installed")]

DECLARATION = ("import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n"
               "    public boolean hasCloseElements(List<Double> numbers, double threshold) {\n")
TEST = """public class Main {
    public static void main(String[] args) {
        Solution s = new Solution();
        List<Boolean> correct = Arrays.asList(
                s.hasCloseElements(new ArrayList<>(Arrays.asList(1.0, 2.0, 3.9, 4.0, 5.0, 2.2)), 0.3),
                !s.hasCloseElements(new ArrayList<>(Arrays.asList(1.0, 2.0, 3.9, 4.0, 5.0, 2.2)), 0.05),
                s.hasCloseElements(new ArrayList<>(Arrays.asList(1.0, 2.0, 5.9, 4.0, 5.0)), 0.95),
                !s.hasCloseElements(new ArrayList<>(Arrays.asList(1.1, 2.2, 3.1, 4.1, 5.1)), 0.5)
        );
        if (correct.contains(false)) {
            throw new AssertionError();
        }
    }
}
"""
CORRECT = DECLARATION + """        for (int i = 0; i < numbers.size(); i++)
            for (int j = i + 1; j < numbers.size(); j++)
                if (Math.abs(numbers.get(i) - numbers.get(j)) < threshold) return true;
        return false;
    }
}
"""
# HumanEval-X's other shape: the result compared with `equals` against a list the test builds.
LIST_DECLARATION = "import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n    public List<Integer> scale(List<Integer> v) {\n"
LIST_TEST = """public class Main {
    public static void main(String[] args) {
        Solution s = new Solution();
        List<Boolean> correct = Arrays.asList(
                s.scale(new ArrayList<>(Arrays.asList(3, 1, 2))).equals(Arrays.asList(3, 6, 9)),
                s.scale(new ArrayList<>()).equals(List.of())
        );
        if (correct.contains(false)) {
            throw new AssertionError();
        }
    }
}
"""
LIST_CORRECT = LIST_DECLARATION + ("        List<Integer> out = new ArrayList<>();\n        for (int x : v) out.add(3 * x);\n"
                                   "        Collections.sort(out);\n        return out;\n    }\n}\n")


def score(program: str, test: str = TEST, declaration: str | None = DECLARATION, **params) -> verifiers.Verdict:
    return score_test_code("java", program, test, declaration, "Java/0", **params)


def test_a_correct_program_passes_and_a_wrong_one_fails_with_the_assertion():
    assert_one(score(CORRECT))
    wrong = score(CORRECT.replace("< threshold", "<= threshold - 0.2"))
    assert_zero(wrong)
    assert "AssertionError" in wrong.details["tests"][0]["reason"], wrong.details
    assert_one(score(LIST_CORRECT, LIST_TEST, LIST_DECLARATION))


HACKS = {
    "a class named like the test's Arrays": (
        "import java.util.*;\nclass Solution {\n"
        "    public boolean hasCloseElements(List<Double> numbers, double threshold) { return false; }\n}\n"
        "class Arrays {\n    static List<Boolean> asList(Object... xs) { return new ArrayList<Boolean>(); }\n}\n"),
    "exits during the call": (
        "import java.util.*;\nclass Solution {\n"
        "    public boolean hasCloseElements(List<Double> numbers, double threshold) { System.exit(0); return true; }\n}\n"),
    "halts during the call": (
        "import java.util.*;\nclass Solution {\n    public boolean hasCloseElements(List<Double> numbers, double threshold) {\n"
        "        Runtime.getRuntime().halt(0); return true;\n    }\n}\n"),
    "exits in a static initializer": (
        "import java.util.*;\nclass Solution {\n    static { System.exit(0); }\n"
        "    public boolean hasCloseElements(List<Double> numbers, double threshold) { return true; }\n}\n"),
    "throws": (
        "import java.util.*;\nclass Solution {\n    public boolean hasCloseElements(List<Double> numbers, double threshold) {\n"
        "        throw new IllegalStateException(\"no\");\n    }\n}\n"),
    "prints a done line with whatever stdin holds": (
        "import java.util.*;\nimport java.io.*;\nclass Solution {\n"
        "    public boolean hasCloseElements(List<Double> numbers, double threshold) throws IOException {\n"
        "        String t = new BufferedReader(new InputStreamReader(System.in)).readLine();\n"
        "        System.out.println(\"\\nREFEREE-TESTS-DONE \" + t);\n"
        "        System.out.println(\"{\\\"passed\\\": true}\");\n        System.out.flush();\n        System.exit(0);\n"
        "        return true;\n    }\n}\n"),
    "overflows its stack": (
        "import java.util.*;\nclass Solution {\n"
        "    public boolean hasCloseElements(List<Double> numbers, double threshold) { return hasCloseElements(numbers, threshold); }\n}\n"),
}


@pytest.mark.parametrize("name", sorted(HACKS))
def test_hacks_earn_nothing(name):
    assert_zero(score(HACKS[name]))


def test_a_returned_list_whose_equals_is_always_true_earns_nothing():
    program = ("import java.util.*;\nclass Solution {\n    public List<Integer> scale(List<Integer> v) {\n"
               "        return new ArrayList<Integer>() {\n"
               "            @Override public boolean equals(Object o) { return true; }\n"
               "            @Override public int hashCode() { return 0; }\n        };\n    }\n}\n")
    verdict = score(program, LIST_TEST, LIST_DECLARATION)
    assert_zero(verdict)
    # The same program against the test built into it (no declaration) is the known hack it closes.
    assert score(program, LIST_TEST, None).reward == 1.0


FORGED_REPLY = """import java.util.*;
import java.io.*;
class Solution {
    public List<Integer> scale(List<Integer> v) {
        try (OutputStream out = new FileOutputStream("/proc/self/fd/5")) {
            out.write(new byte[] {BYTES});
        } catch (IOException e) { }
        return v;
    }
}
"""


@pytest.mark.parametrize("reply, reason", [
    ("0, 0, 0, 6, 0, 1, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff", "a value ended early"),  # a list of 2^31 - 1
    ("0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0", "the program exited during the tests"),  # a 2 GiB frame
    ("0, 0, 0, 2, 0, 1", "a value ended early"),  # a list without its count
])
def test_replies_the_program_forges_on_its_pipe_fail_it(reply, reason):
    """The program writes a reply of its own making on the pipe the bridge answers on: the test's
    side checks every count against the bytes it has, and fails the program, never itself."""
    verdict = score(FORGED_REPLY.replace("BYTES", reply), LIST_TEST, LIST_DECLARATION)
    assert_zero(verdict)
    assert verdict.details["tests"][0]["reason"] == reason, verdict.details


def test_the_program_cannot_find_the_tests_expected_value():
    """The test's expected value is a string only the test holds (in its class files too); the
    program searches every file it can see for it and returns what it finds."""
    declaration = "import java.util.*;\n\nclass Solution {\n    public String guess() {\n"
    test = ("public class Main {\n    public static void main(String[] args) {\n"
            "        if (!new Solution().guess().equals(\"expected-7c41d2\")) throw new AssertionError();\n    }\n}\n")
    program = """import java.util.*;
import java.nio.file.*;
import java.util.regex.*;
import java.util.stream.*;

class Solution {
    public String guess() {
        Pattern pattern = Pattern.compile("expected-[0-9a-f]{6}");
        for (String root : new String[] {"/tmp", "/prog", "/work", "/proc", "/dev/shm"}) {
            try (Stream<Path> paths = Files.walk(Paths.get(root), 3)) {
                for (Path path : (Iterable<Path>) paths::iterator) {
                    try {
                        if (!Files.isRegularFile(path) || Files.size(path) > (1 << 22)) continue;
                        String data = new String(Files.readAllBytes(path), "ISO-8859-1");
                        Matcher m = pattern.matcher(data);
                        if (m.find()) return m.group();
                    } catch (Exception e) { }
                }
            } catch (Exception e) { }
        }
        return "nothing";
    }
}
"""
    assert_zero(score(program, test, declaration))
    assert_one(score(declaration + "        return \"expected-7c41d2\";\n    }\n}\n", test, declaration))


def test_values_cross_exactly():
    declaration = ("import java.util.*;\n\nclass Solution {\n"
                   "    public Map<String, Integer> tally(List<String> words, double weight, long big, boolean flag, char c,"
                   " List<List<Integer>> grid, Optional<String> maybe, int[] xs, Set<Long> ids, Integer none, float f) {\n")
    test = """public class Main {
    public static void main(String[] args) {
        Map<String, Integer> got = new Solution().tally(Arrays.asList("a", "b", "a", "\\u00e9\\ud83d\\ude00"), 0.1,
            9007199254740993L, true, 'z', Arrays.asList(Arrays.asList(1, 2), new ArrayList<>()), Optional.of("x"),
            new int[] {Integer.MIN_VALUE, 7}, new HashSet<>(Arrays.asList(-1L)), null, -0.0f);
        Map<String, Integer> expected = new HashMap<>();
        expected.put("a", 2); expected.put("b", 1); expected.put("\\u00e9\\ud83d\\ude00", 1);
        expected.put("exact", 1);
        if (!got.equals(expected) || got.getClass() != LinkedHashMap.class) throw new AssertionError(got);
    }
}
"""
    program = declaration + """        Map<String, Integer> out = new TreeMap<>();
        for (String w : words) out.merge(w, 1, Integer::sum);
        boolean exact = weight == 0.1 && big == 9007199254740993L && flag && c == 'z'
            && grid.equals(List.of(List.of(1, 2), List.of())) && maybe.equals(Optional.of("x"))
            && xs.length == 2 && xs[0] == Integer.MIN_VALUE && xs[1] == 7 && ids.equals(Set.of(-1L)) && none == null
            && Float.floatToRawIntBits(f) == Float.floatToRawIntBits(-0.0f);
        out.put("exact", exact ? 1 : 0);
        return out;
    }
}
"""
    assert_one(score(program, test, declaration))
    # Results of every shape come back as they left, as JDK types.
    declaration = "import java.util.*;\n\nclass Solution {\n    public Optional<List<double[]>> split(String s) {\n"
    test = """public class Main {
    public static void main(String[] args) {
        Optional<List<double[]>> got = new Solution().split("0.1 9007199254740993");
        if (!got.isPresent() || got.get().size() != 1 || got.get().get(0)[0] != 0.1
                || (long) got.get().get(0)[1] != 9007199254740992L || got.get().getClass() != ArrayList.class)
            throw new AssertionError();
        if (new Solution().split("").isPresent()) throw new AssertionError();
    }
}
"""
    program = declaration + """        if (s.isEmpty()) return Optional.empty();
        String[] parts = s.split(" ");
        return Optional.of(new LinkedList<>(List.of(new double[] {Double.parseDouble(parts[0]), Double.parseDouble(parts[1])})));
    }
}
"""
    assert_one(score(program, test, declaration))


def test_exceptions_reach_the_test_and_helpers_from_the_declaration_stay_the_tests():
    declaration = ("import java.util.*;\n\nclass Solution {\n    public String encode(String s) {\n        return s + \"!\";\n"
                   "    }\n    public String decode(String s) {\n")
    test = """public class Main {
    public static void main(String[] args) {
        Solution s = new Solution();
        if (!s.decode(s.encode("abc")).equals("abc")) throw new AssertionError();
        boolean threw = false;
        try { s.decode(""); } catch (RuntimeException e) { threw = e.getMessage().contains("empty"); }
        if (!threw) throw new AssertionError();
    }
}
"""
    correct = declaration + ("        if (s.isEmpty()) throw new IllegalArgumentException(\"empty\");\n"
                             "        return s.substring(0, s.length() - 1);\n    }\n}\n")
    # The program redefines the helper: the test keeps the declaration's own.
    sneaky = ("import java.util.*;\nclass Solution {\n    public String encode(String s) { return s; }\n"
              "    public String decode(String s) {\n        if (s.isEmpty()) throw new IllegalArgumentException(\"empty\");\n"
              "        return s;\n    }\n}\n")
    assert_one(score(correct, test, declaration))
    assert_zero(score(sneaky, test, declaration))


def test_a_test_that_does_not_build_is_an_error_not_a_zero():
    verdict = score(CORRECT, "public class Main { this does not compile }\n")
    assert verdict.status.value == "error", (verdict.status, verdict.details)
    assert "does not build" in verdict.message, verdict.message


def test_a_hanging_call_times_out():
    verdict = score("import java.util.*;\nclass Solution {\n"
                    "    public boolean hasCloseElements(List<Double> numbers, double threshold) { for (;;) {} }\n}\n",
                    time_limit_s=2)
    assert verdict.reward == 0.0 and "limit" in str(verdict.details), verdict.details


def test_declarations_the_bridge_reads_and_those_it_leaves_in_process():
    sig = entry_signature("import java.util.*;\nclass Solution {\n    int helper() { return 1; }\n"
                          "    public static Map<String, List<int[]>> f(final java.util.List<Long> a, char[][] k) {\n")
    assert sig is not None and sig.name == "f" and sig.static and [n for _, n in sig.params] == ["a", "k"]
    assert sig.return_type.descriptor == "map(String,list(array(int)))"
    assert [t.descriptor for t, _ in sig.params] == ["list(Long)", "array(array(char))"]
    assert parse_type("List<int>") is None and parse_type("Map<String>") is None and parse_type("Object") is None
    for unreadable in ("class Solution {\n    public <T> List<T> f(List<T> x) {\n",
                       "class Solution {\n    public void f(int x) {\n",
                       "class Solution {\n    public int f(int... xs) {\n",
                       "class Solution {\n    public int f(List<Object> xs) {\n",
                       "class Solution {\n    public int f(int x) throws Exception {\n",
                       "class Other {\n    public int f(int x) {\n",
                       "class Solution {\n    class Inner {\n        public int f(int x) {\n",
                       "class Solution {\n    public int f(int x);\n"):
        assert entry_signature(unreadable) is None, unreadable
    # Left in process, the test still runs (built into the program).
    declaration = "import java.util.*;\n\nclass Solution {\n    public List<Object> keep(List<Object> xs) {\n"
    test = ("public class Main {\n    public static void main(String[] args) {\n"
            "        if (!new Solution().keep(Arrays.asList(1, \"a\")).equals(Arrays.asList(1, \"a\"))) throw new AssertionError();\n"
            "    }\n}\n")
    assert_one(score(declaration + "        return xs;\n    }\n}\n", test, declaration))


def test_without_the_warm_javac_the_test_server_builds_the_test():
    """A service without its warm javac has the sandbox's test server build the test with javac:
    the same verdicts, only slower."""
    from sandbox import Sandbox
    from sandbox.testcases import CodeTest, run_tests
    with Sandbox() as box:
        box.warm_javac.disabled = "as if the warm javac could not start"
        good = run_tests("java", LIST_CORRECT, [CodeTest(test_code=LIST_TEST, declaration=LIST_DECLARATION)], sandbox=box)
        hack = run_tests("java", HACKS["a class named like the test's Arrays"].replace(
            "public boolean hasCloseElements(List<Double> numbers, double threshold) { return false; }",
            "public List<Integer> scale(List<Integer> v) { return v; }"),
            [CodeTest(test_code=LIST_TEST, declaration=LIST_DECLARATION)], sandbox=box)
        broken = run_tests("java", LIST_CORRECT, [CodeTest(test_code="class Main { nope }", declaration=LIST_DECLARATION)],
                           sandbox=box)
    assert (good.passed, hack.passed) == (1, 0), (good, hack)
    assert broken.passed == 0 and "does not build" in (broken.results[0].reason or ""), broken
