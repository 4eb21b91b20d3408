"""`POST /v1/sandbox/run` and the `code` verifier through a real `referee serve`."""

from __future__ import annotations

import concurrent.futures

import httpx


def run(server: str, **body) -> httpx.Response:
    return httpx.post(f"{server}/v1/sandbox/run", json=body, timeout=120)


def test_run_a_program_with_stdin_and_files(server):
    response = run(server, language="py", source="import sys\nprint(open('n.txt').read().strip(), sys.stdin.read()[::-1])",
                   stdin="abc", files={"n.txt": "42\n"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and body["stdout"] == "42 cba\n" and body["exit_code"] == 0


def test_compiled_program_and_compile_error(server):
    ok = run(server, language="c", source='#include <stdio.h>\nint main(){puts("hi"); return 2;}').json()
    assert ok["status"] == "runtime_error" and ok["exit_code"] == 2 and ok["stdout"] == "hi\n"
    assert ok["compile"]["status"] == "ok"
    bad = run(server, language="cpp", source="int main( {").json()
    assert bad["status"] == "compile_error" and "error" in bad["stderr"]


def test_limits_are_applied_and_named(server):
    slow = run(server, language="python", source="while True: pass", limits={"cpu_time_s": 0.5, "wall_time_s": 2}).json()
    assert slow["status"] == "timeout"
    big = run(server, language="python", source="x = bytearray(400 << 20)", limits={"memory_mb": 64}).json()
    assert big["status"] == "memory_limit"


def test_bad_requests_are_422(server):
    assert run(server, language="cobol", source="x").status_code == 422
    assert run(server, language="python", source="x", files={"../x": "y"}).status_code == 422
    assert run(server, language="python", source="x", limits={"memory_mb": 10**9}).status_code == 422
    assert run(server, language="python", source="x", limits={"bogus": 1}).status_code == 422


def test_concurrent_requests_share_the_warm_sandboxes(server):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda i: run(server, language="python", source=f"print({i} * 2)").json(), range(24)))
    assert [b["stdout"] for b in bodies] == [f"{i * 2}\n" for i in range(24)]


def test_code_verifier_through_v1_verify(server):
    items = [{"id": i, "verifier": "code", "completion": f"```python\nprint(int(input()) * {k})\n```",
              "reference": {"tests": [{"stdin": "2", "stdout": "4"}, {"stdin": "3", "stdout": "6"}]}}
             for i, k in enumerate([2, 3])]
    verdicts = httpx.post(f"{server}/v1/verify", json={"items": items}, timeout=120).json()["verdicts"]
    assert [(v["id"], v["status"], v["reward"]) for v in verdicts] == [(0, "ok", 1.0), (1, "ok", 0.0)]
    assert verdicts[1]["details"]["tests"][0]["diff"] == {"line": 1, "expected": "4", "got": "6"}
