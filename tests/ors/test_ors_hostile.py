"""Hostile input to the ORS endpoint: runaway interpreters, foreign session ids, late calls, floods."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.ors.conftest import KEY_A, KEY_B, call_tool, http, open_session


def output_of(result: dict) -> tuple[str, dict]:
    return result["output"]["blocks"][0]["text"], result["output"]["metadata"]


def test_an_interpreter_that_loops_forks_or_floods_is_contained(ors_url: str) -> None:
    sid = open_session(ors_url, "arith", split="train", index=0)
    run = lambda code: output_of(call_tool(ors_url, sid, "run_python", {"code": code})[0])  # noqa: E731

    assert run("kept = 'yes'")[0] == "(no output)"
    text, meta = run("import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
                     "            import time; time.sleep(60)\n        n += 1\nexcept OSError as e:\n"
                     "    print('forks stopped after', n)")
    assert text.startswith("forks stopped after") and int(text.split()[-1]) < 64 and meta["stopped"] is None
    assert run("kept")[0] == "'yes'"  # the interpreter survived its fork bomb

    text, meta = run("print('z' * 300_000); after = 1")
    assert meta["truncated"] and len(text) < 70_000 and "[output truncated]" in text
    assert run("after")[0] == "1"

    text, meta = run("while True: print('flood' * 100)")
    assert meta["stopped"] == "timeout" and meta["truncated"] and "wall-clock limit of 2 s" in text

    text, meta = run("kept")  # a new interpreter: the old one and its variables are gone
    assert "NameError" in text and meta["error"] and meta["stopped"] is None

    text, meta = run("while True: pass")
    assert meta["stopped"] == "timeout" and "interpreter stopped" in text
    text, meta = run("x = bytearray(3 * 1024**3)")
    assert meta["stopped"] == "memory_limit"
    assert run("print('still serving')")[0] == "still serving"
    with http(ors_url) as c:
        assert c.get("/health").json()["status"] == "ok"
        c.post("/delete", headers={"X-Session-ID": sid})


def test_another_users_session_id_is_not_found(ors_url: str) -> None:
    sid = open_session(ors_url, "arith", key=KEY_A, split="train", index=0)
    with http(ors_url, KEY_B, sid) as other:
        assert other.get("/arith/prompt").status_code == 404
        assert other.post("/ping").status_code == 404
        assert other.post("/arith/call", json={"name": "submit", "input": {"answer": "42"}}).status_code == 404
        assert other.post("/delete").status_code == 404
        assert other.get("/arith/verdict").status_code == 404
        assert other.post("/create", json={"env_name": "arith", "split": "train", "index": 1}).status_code == 404
    with http(ors_url, None, sid) as anonymous:
        assert anonymous.get("/arith/prompt").status_code == 401  # this server has keys
    result, _ = call_tool(ors_url, sid, "submit", {"answer": "42"}, key=KEY_A)
    assert result["output"]["reward"] == 1.0  # untouched by the other user's attempts


def test_calls_after_delete_are_gone(ors_url: str) -> None:
    sid = open_session(ors_url, "arith", split="train", index=0)
    call_tool(ors_url, sid, "run_python", {"code": "x = 1"})
    with http(ors_url, KEY_A, sid) as c:
        assert c.post("/delete").json() == {"sid": sid}
        assert c.post("/arith/call", json={"name": "run_python", "input": {"code": "x"}}).status_code == 410
        assert c.get("/arith/prompt").status_code == 410
        reply = c.post("/ping")
        assert reply.status_code == 410 and "deleted" in reply.json()["detail"]
        assert c.post("/delete").status_code == 200  # deleting again is harmless


def test_a_thousand_sessions_at_once_are_bounded(small_url: str) -> None:
    async def open_many(n: int) -> list[httpx.Response]:
        # 1,000 requests in flight at once (over 50 connections: this machine's loopback backlog
        # drops connection bursts much larger than that, which would test the kernel, not Referee).
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=f"{small_url}/v1/ors", limits=limits, timeout=120) as c:
            return await asyncio.gather(*(c.post("/create_session") for _ in range(n)))

    replies = asyncio.run(open_many(1000))
    opened = [r.json()["sid"] for r in replies if r.status_code == 200]
    refused = [r for r in replies if r.status_code != 200]
    assert len(opened) == 200 and len(refused) == 800
    assert all(r.status_code == 429 and "too many live sessions" in r.json()["detail"] for r in refused)
    with http(small_url, None) as c:
        assert c.get("/health").json()["sessions"] == 200
    asyncio.run(delete_all(small_url, opened))
    with http(small_url, None) as c:
        assert c.get("/health").json()["sessions"] == 0
        assert c.post("/create_session").status_code == 200  # room again


async def delete_all(url: str, sids: list[str]) -> None:
    async with httpx.AsyncClient(base_url=f"{url}/v1/ors", limits=httpx.Limits(max_connections=20), timeout=60) as c:
        replies = await asyncio.gather(*(c.post("/delete", headers={"X-Session-ID": sid}) for sid in sids))
    assert all(r.status_code == 200 for r in replies)


def test_idle_sessions_expire_and_free_their_interpreter(expiring_url: str, openreward_env) -> None:
    from openreward import OpenReward
    from openreward.api.errors import SessionTerminatedError

    openreward_env(expiring_url, None)
    client = OpenReward(base_url=f"{expiring_url}/v1/ors")
    try:
        with client.environments.get("arith").session(split="train", index=0) as session:
            assert session.call_tool("run_python", {"code": "x = 1"}).finished is False
            with http(expiring_url, None) as c:
                assert c.get("/health").json()["interpreters"] >= 1
                deadline = time.monotonic() + 15
                while c.get("/health").json()["sessions"] and time.monotonic() < deadline:
                    time.sleep(0.5)
                health = c.get("/health").json()
                assert health["sessions"] == 0 and health["interpreters"] == 0
                expired = c.post("/ping", headers={"X-Session-ID": session.sid})
                assert expired.status_code == 410 and "expired" in expired.json()["detail"]
            with pytest.raises(SessionTerminatedError):
                session.call_tool("run_python", {"code": "x"})
    finally:
        client.close()


def test_metrics_count_sessions_interpreters_and_tool_calls(small_url: str) -> None:
    sid = open_session(small_url, "arith", key=None, split="train", index=0)
    call_tool(small_url, sid, "run_python", {"code": "1"}, key=None)
    call_tool(small_url, sid, "submit", {"answer": "42"}, key=None)
    text = httpx.get(f"{small_url}/metrics").text
    assert "referee_ors_sessions " in text and "referee_ors_interpreters 1.0" in text
    assert 'referee_ors_tool_calls_total{outcome="ok",tool="submit"} 1.0' in text
    assert 'referee_ors_tool_calls_total{outcome="ok",tool="run_python"} 1.0' in text
    with http(small_url, None, sid) as c:
        c.post("/delete")
