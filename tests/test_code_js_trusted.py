"""JavaScript test code runs in a trusted test process of its own (sandbox/js/trusted_test.js):
the program's functions are proxies there, their results come back as data, and only that
process can write the verdict. Programs that try to forge a pass, reach the test or bend the
comparison earn 0; correct programs earn 1 however their values look."""

from __future__ import annotations

import pytest

import verifiers
from sandbox.languages import LANGUAGES, missing_toolchain
from tests.code_verdicts import assert_one, assert_zero

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(bool(missing_toolchain(LANGUAGES["javascript"])), reason="node is not installed")]

SCALE_TEST = ("const testScale = () => {\n  const candidate = scale\n"
              "  console.assert(JSON.stringify(candidate([3, 1, 2])) === JSON.stringify([3, 6, 9]))\n"
              "  console.assert(candidate([]).length === 0)\n}\ntestScale()\n")
WRONG_SCALE = "const scale = (v) => v.map((x) => x * 4).sort((a, b) => a - b)\n"


def score(program: str, test_code: str = SCALE_TEST) -> verifiers.Verdict:
    return verifiers.verify("code", completion=f"```javascript\n{program}\n```",
                            reference={"language": "javascript", "test_code": test_code}, timeout_s=60)


def test_a_correct_program_passes_and_prints_freely():
    assert_one(score("function scale(v) {\n  console.log('scaling', v)\n  return v.map((x) => x * 3).sort((a, b) => a - b)\n}\n"))


HACKS = {
    # The old in-process shape read a one-time token from stdin after the tests: forge that line.
    "prints the done line with stdin's token": (
        "const fs = require('fs')\nlet token = ''\ntry { token = fs.readFileSync(0, 'utf8') } catch (e) {}\n"
        "console.log('\\nREFEREE-TESTS-DONE ' + token.trim())\nprocess.exit(0)\n" + WRONG_SCALE),
    "patches the builtins the test compares with": (
        "JSON.stringify = () => '[]'\nconsole.assert = () => {}\nObject.is = () => true\n"
        "Array.prototype.toString = () => ''\n" + WRONG_SCALE),
    "returns an object whose toJSON claims the answer": (
        "const scale = (v) => ({toJSON() { return [3, 6, 9] }, length: 0})\n"),
    "returns a proxy that claims every property": (
        "const scale = (v) => new Proxy([], {get: (t, k) => k === 'length' ? 0 : (k === 'toJSON' ? () => [3, 6, 9] : t[k])})\n"),
    "answers the test's pipe with a verdict of its own": (
        "const fs = require('fs')\nfor (const fd of [3, 4, 5, 6, 7]) {\n"
        "  try { fs.writeSync(fd, JSON.stringify({passed: true})) } catch (e) {}\n}\n" + WRONG_SCALE),
    "defines the test's builtins itself": (
        "function isNaN() { return true }\nvar JSON = {stringify: () => 'same'}\n" + WRONG_SCALE),
    "exits before the tests": "process.exit(0)\n" + WRONG_SCALE,
    "exits during the tests": "const scale = (v) => process.exit(0)\n",
    "throws during the tests": "const scale = (v) => { throw new Error('no') }\n",
    "kills itself during the tests": "const scale = (v) => process.kill(process.pid, 'SIGKILL')\n",
}


@pytest.mark.parametrize("name", sorted(HACKS))
def test_hacks_earn_nothing(name):
    assert_zero(score(HACKS[name]))


def test_the_program_cannot_find_the_test_or_its_expected_values():
    """The test holds a value the program would have to return; the program searches every
    process, file and descriptor it can see for it and returns what it finds."""
    secret_test = "console.assert(guess() === 'expected-8f1c2b')\n"
    program = (
        "const fs = require('fs')\nconst path = require('path')\nfunction guess() {\n"
        "  const found = []\n  const look = (file) => { try { const m = /expected-[0-9a-f]{6}/.exec(fs.readFileSync(file, 'latin1'));"
        " if (m) found.push(m[0]) } catch (e) {} }\n"
        "  for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {\n"
        "    for (const f of ['cmdline', 'environ']) look(path.join('/proc', pid, f))\n"
        "    try { for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) look(`/proc/${pid}/fd/${fd}`) } catch (e) {}\n  }\n"
        "  for (const dir of ['/tmp', '/work', '/prog', '/dev/shm']) {\n"
        "    try { for (const f of fs.readdirSync(dir)) look(path.join(dir, f)) } catch (e) {}\n  }\n"
        "  return found[0] || 'nothing'\n}\n")
    assert_zero(score(program, secret_test))
    assert_one(score("function guess() { return 'expected-8f1c2b' }\n", secret_test))


def test_values_cross_as_exact_data():
    test_code = (
        "const assert = require('assert')\n"
        "assert.deepStrictEqual(shapes(), {nan: NaN, negZero: -0, none: undefined, nothing: null, big: 12345678901234567890n,\n"
        "  list: [1, 'two', [3.5]], map: new Map([[1, 'x']]), set: new Set(['a']), date: new Date(0), inf: -Infinity})\n"
        "assert.deepStrictEqual(echo([1, {a: [2]}], 'x'), [[1, {a: [2]}], 'x'])\n"
        "assert.strictEqual(LIMIT, 10)\n")
    program = ("const LIMIT = 10\nfunction shapes() {\n  return {nan: NaN, negZero: -0, none: undefined, nothing: null,"
               " big: 12345678901234567890n, list: [1, 'two', [3.5]], map: new Map([[1, 'x']]), set: new Set(['a']),"
               " date: new Date(0), inf: -Infinity}\n}\nconst echo = (...args) => args\n")
    assert_one(score(program, test_code))
    assert_zero(score(program.replace("negZero: -0", "negZero: 0"), test_code))  # -0 is not 0 to deepStrictEqual


def test_exceptions_keep_their_type():
    test_code = ("const assert = require('assert')\nassert.throws(() => divide(1, 0), RangeError)\n"
                 "assert.strictEqual(divide(6, 3), 2)\n")
    assert_one(score("function divide(a, b) {\n  if (b === 0) throw new RangeError('by zero')\n  return a / b\n}\n", test_code))
    assert_zero(score("function divide(a, b) {\n  if (b === 0) throw new TypeError('by zero')\n  return a / b\n}\n", test_code))


def test_a_value_that_is_not_data_fails_with_a_reason():
    verdict = score("class Box { constructor(v) { this.v = v } }\nconst scale = (v) => new Box(v)\n")
    assert_zero(verdict)
    assert "not data" in str(verdict.details), verdict.details


def test_test_code_may_shadow_program_names_and_use_its_own_helpers():
    test_code = ("const scale = (v) => v\nvar twice = (x) => 2 * x\nconsole.assert(scale([1]).length === 1)\n"
                 "console.assert(twice(2) === 4)\n")
    assert_one(score("const twice = (x) => 3 * x\n", test_code))


def test_asynchronous_test_code_fails_after_the_synchronous_part():
    test_code = "setTimeout(() => console.assert(scale([1])[0] === 4), 0)\n"
    assert_zero(score("const scale = (v) => v.map((x) => x * 3)\n", test_code))
    assert_one(score("const scale = (v) => v.map((x) => x * 4)\n", test_code))


def test_a_hanging_call_times_out():
    verdict = verifiers.verify("code", completion="```javascript\nconst scale = (v) => { for (;;) {} }\n```",
                               reference={"language": "javascript", "test_code": SCALE_TEST},
                               params={"time_limit_s": 1}, timeout_s=60)
    assert verdict.reward == 0.0, verdict.details
    assert "timeout" in str(verdict.details) or "limit" in str(verdict.details), verdict.details
