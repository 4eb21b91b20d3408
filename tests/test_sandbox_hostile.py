"""Hostile programs against a running server: each may fail itself, but never the sandbox.

The server has one sandbox slot, so every program after a hostile one runs in the very sandbox
the hostile one used (or in its replacement); after each, a normal program in every language
this host can run must still give the right answer.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import running_server

NORMAL = {  # reads a line, answers its reverse and length
    "python": "s = input()\nprint(s[::-1], len(s))",
    "c": '#include <stdio.h>\n#include <string.h>\nint main(){char s[64]; scanf("%63s", s); int n = strlen(s);\n'
         'for (int i = n - 1; i >= 0; i--) putchar(s[i]); printf(" %d\\n", n); return 0;}',
    "cpp": '#include <iostream>\n#include <string>\n#include <algorithm>\nint main(){std::string s; std::cin >> s;\n'
           'std::string r(s.rbegin(), s.rend()); std::cout << r << " " << s.size() << "\\n";}',
    "javascript": "const s = require('fs').readFileSync(0, 'utf8').trim();\n"
                  "console.log([...s].reverse().join('') + ' ' + s.length);",
    "java": "import java.util.*;\npublic class Main { public static void main(String[] a) {\n"
            "String s = new Scanner(System.in).next();\n"
            "System.out.println(new StringBuilder(s).reverse() + \" \" + s.length()); } }",
    "rust": "use std::io::Read;\nfn main() { let mut s = String::new(); std::io::stdin().read_to_string(&mut s).unwrap();\n"
            "let s = s.trim(); let r: String = s.chars().rev().collect(); println!(\"{} {}\", r, s.len()); }",
    "bash": 'read s; echo "$(rev <<< "$s") ${#s}"',
}


@pytest.fixture(scope="module")
def one_slot_server():
    with running_server("--workers", "1", env={"REFEREE_SANDBOX_SLOTS": "1"}) as url:
        yield url


@pytest.fixture(scope="module")
def languages(one_slot_server: str) -> list[str]:
    report = httpx.get(f"{one_slot_server}/v1/sandbox/languages", timeout=60).json()
    assert report["sandbox"]["available"], report
    usable = [lang["name"] for lang in report["languages"] if lang["available"]]
    assert "python" in usable
    return usable


def run(server: str, timeout: float = 180, **body) -> dict:
    response = httpx.post(f"{server}/v1/sandbox/run", json=body, timeout=timeout)
    assert response.status_code == 200, response.text[:500]
    return response.json()


def assert_every_language_still_runs(server: str, languages: list[str]) -> None:
    for language in languages:
        result = run(server, language=language, source=NORMAL[language], stdin="sandbox\n")
        assert (result["status"], result["stdout"]) == ("ok", "xobdnas 7\n"), (language, result)


DEEP_JAVA_PACKAGE = ("package " + ".".join(["p"] * 1100) + ";\npublic class Main {\n"
                     "  public static void main(String[] a) { System.out.println(1); } }\n")

HOSTILE = {
    # javac makes a 1,100-deep directory tree; a recursive clean-up of it overflows the stack
    "deep_java_package": dict(language="java", source=DEEP_JAVA_PACKAGE),
    "deep_file_tree": dict(language="python", source="print(1)",
                           files={"/".join(["d"] * 400) + "/f.txt": "x"}),
    # every byte >= 0x80 was six bytes on the sandbox's channel: these overflowed the frame
    "invalid_utf8_over_the_cap": dict(language="python", limits={"output_bytes": 4 << 20},
                                      source="import sys\nsys.stdout.buffer.write(b'\\xff' * (8 << 20))"),
    "invalid_utf8_under_the_cap": dict(language="python", limits={"output_bytes": 4 << 20},
                                       source="import sys\nsys.stdout.buffer.write(b'\\xfe' * ((4 << 20) - 10))"),
    "invalid_utf8_on_the_result_fd": dict(language="python",
                                          source="import os\nos.write(3, b'\\xff' * (60 << 20))\nprint('done')"),
    "non_ascii_stdin": dict(language="python", stdin="é" * (24 << 20),
                            source="import sys\nprint(len(sys.stdin.buffer.read()))"),
    "vsock_and_netlink_sockets": dict(language="python", source=(
        "import socket\nfor family in (40, 16, 17):  # AF_VSOCK, AF_NETLINK, AF_PACKET\n"
        "    try:\n        socket.socket(family, socket.SOCK_DGRAM)\n        print(family, 'opened')\n"
        "    except OSError as exc:\n        print(family, exc.errno)\n"
        "a, b = socket.socketpair()\ns = socket.socket(socket.AF_INET6)\nprint('unix and inet6 work')")),
    "fork_and_leave_a_child": dict(language="bash", source="(sleep 100 &) ; echo started"),
    "fill_the_disk": dict(language="python", source=(
        "try:\n    open('/tmp/big', 'wb').write(b'x' * (200 << 20))\nexcept OSError as exc:\n    print('full', exc.errno)")),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_program_leaves_the_sandbox_working(one_slot_server, languages, name):
    if HOSTILE[name]["language"] not in languages:
        pytest.skip(f"{HOSTILE[name]['language']} is not installed here")
    result = run(one_slot_server, **HOSTILE[name])
    assert result["status"] != "sandbox_error", result["message"]
    if name == "invalid_utf8_over_the_cap":
        assert result["status"] == "output_limit" and result["truncated"]
    if name == "invalid_utf8_under_the_cap":  # the text answer holds the cap too: U+FFFD is 3 bytes
        assert result["status"] == "ok" and result["truncated"]
        assert len(result["stdout"].encode()) <= 4 << 20
    if name == "invalid_utf8_on_the_result_fd":
        assert result["status"] == "ok" and result["stdout"] == "done\n"
    if name == "non_ascii_stdin":
        assert result["status"] == "ok" and result["stdout"] == f"{48 << 20}\n"
    if name == "vsock_and_netlink_sockets":
        assert result["stdout"] == "40 97\n16 97\n17 97\nunix and inet6 work\n", result  # 97: EAFNOSUPPORT
    if name == "deep_file_tree":
        assert result["status"] == "ok"
    assert_every_language_still_runs(one_slot_server, languages)


def test_compiling_counts_against_the_callers_wall_limit(one_slot_server, languages):
    if "c" not in languages:
        pytest.skip("gcc is not installed here")
    # Each macro doubles the text: the preprocessor alone would run for minutes.
    bomb = "#define A0 x\n" + "".join(f"#define A{i} A{i - 1} A{i - 1}\n" for i in range(1, 40)) + "int main(){A39;}\n"
    result = run(one_slot_server, language="c", source=bomb, limits={"wall_time_s": 1, "cpu_time_s": 1})
    assert result["status"] == "compile_error"
    message = result["compile"]["message"]  # e.g. "wall clock limit 0.99 s": what was left of the 1 s
    assert message.startswith(("wall clock limit", "CPU time limit")), result["compile"]
    assert float(message.split()[-2]) <= 1
    assert_every_language_still_runs(one_slot_server, languages)


def test_request_bodies_are_limited(one_slot_server):
    body = b'{"language": "python", "source": "print(1)", "files": {"a": "' + b"x" * (65 << 20) + b'"}}'
    response = httpx.post(f"{one_slot_server}/v1/sandbox/run", content=body, timeout=120,
                          headers={"content-type": "application/json"})
    assert response.status_code == 413 and "max_body_bytes" in response.json()["detail"]
    chunks = (b"x" * (1 << 20) for _ in range(70))  # no content-length: counted while read
    response = httpx.post(f"{one_slot_server}/v1/sandbox/run", content=chunks, timeout=120)
    assert response.status_code == 413


@pytest.mark.parametrize("body", [
    b'{"language": "python", "source": "print(1)", "limits": {"wall_time_s": NaN}}',
    b'{"language": "python", "source": "print(1)", "limits": {"cpu_time_s": Infinity}}',
    b'{"language": "python", "source": "print(1)", "limits": {"memory_mb": 1e400}}',
    b'{"language": "python", "source": "print(1)", "limits": {"output_bytes": -Infinity}}',
])
def test_non_finite_numbers_in_a_run_are_422(one_slot_server, body):
    response = httpx.post(f"{one_slot_server}/v1/sandbox/run", content=body, timeout=30,
                          headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/envs/lcs/sample", b'{"seed": NaN}'),
    ("/v1/envs/lcs/sample", b'{"seed": 1, "n": Infinity}'),
    ("/v1/envs/sudoku/sample", b'{"config": {"empty_fraction": NaN}}'),
    ("/v1/envs/sudoku/sample", b'{"config": {"size": 1e400}}'),
    ("/v1/verify", b'{"items": [], "timeout_s": NaN}'),
    ("/v1/verify", b'{"items": [{"verifier": "numeric", "completion": "1", "reference": Infinity}]}'),
    ("/v1/verify", b'{"items": [{"verifier": "numeric", "completion": "1", "reference": "1",'
                   b' "params": {"rel_tol": 1e999}}]}'),
])
def test_non_finite_numbers_anywhere_are_422(one_slot_server, path, body):
    response = httpx.post(f"{one_slot_server}{path}", content=body, timeout=30,
                          headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
