"""The ORS endpoint through the reference client, `openreward`, against a running Referee."""

from __future__ import annotations

import json

import pytest

from envs import get_environment
from envs.ids import decode_id
from tests.ors.conftest import KEY_A, SECRET_REFERENCE, call_tool, http, open_session


def right_answer(instance_id: str) -> str:
    """The reference answer, computed here (offline) from the public instance id."""
    instance = get_environment(decode_id(instance_id).name).rebuild(instance_id)
    return get_environment(instance.env).format_answer(instance.solution)


def test_discovery_lists_environments_splits_and_tasks(ors_url: str, client_a) -> None:
    with http(ors_url) as c:
        names = c.get("/list_environments").json()
    assert {"sudoku", "kenken", "subset_sum", "arith"} <= set(names) and "n_queens" not in names

    sudoku = client_a.environments.get("sudoku")
    assert sudoku.list_splits() == ["train", "test"]
    assert sudoku.num_tasks("train") == 50 and sudoku.num_tasks("test") == 20
    assert [t.name for t in sudoku.list_tools()] == ["submit"]
    train = sudoku.list_tasks("train")
    test = [sudoku.get_task("test", i) for i in range(20)]
    assert all(set(t.task_spec) == {"instance_id"} for t in train + test)
    train_ids = [decode_id(t.task_spec["instance_id"]) for t in train]
    test_ids = [decode_id(t.task_spec["instance_id"]) for t in test]
    # Disjoint seed ranges, each at its configured difficulty.
    assert {d.seed for d in train_ids}.isdisjoint({d.seed for d in test_ids})
    assert [d.seed for d in train_ids] == list(range(50))
    levels = get_environment("sudoku").levels()
    assert all(d.config == levels["easiest"].model_dump(mode="json") for d in train_ids)
    assert all(d.config == levels["hardest"].model_dump(mode="json") for d in test_ids)

    arith = client_a.environments.get("arith")
    assert arith.list_splits() == ["train", "test"]
    assert [t.task_spec for t in arith.list_tasks("train")] == [{"row": 0}, {"row": 1}]
    assert [t.name for t in arith.list_tools()] == ["submit", "run_python"]


def test_submit_right_and_wrong_answers(client_a) -> None:
    from openreward.api.errors import ToolCallError

    sudoku = client_a.environments.get("sudoku")
    task = sudoku.get_task("train", 3)
    with sudoku.session(task=task) as session:
        prompt = session.get_prompt()[0].text
        assert "sudoku" in prompt.lower() and "submit" in prompt
        out = session.call_tool("submit", {"answer": right_answer(task.task_spec["instance_id"])})
        assert out.reward == 1.0 and out.finished is True
        with pytest.raises(ToolCallError) as caught:
            session.call_tool("submit", {"answer": "anything"})
        assert caught.value.reason == "episode_finished"

    with sudoku.session(split="train", index=4) as session:
        out = session.call_tool("submit", {"answer": "1 2 3"})
        assert out.reward == 0.0 and out.finished is True
        assert out.metadata["status"] == "wrong_format"


def test_try_again_discounts_the_reward(client_a) -> None:
    env = client_a.environments.get("subset_sum")
    task = env.get_task("train", 0)
    answer = right_answer(task.task_spec["instance_id"])
    with env.session(task=task) as session:
        assert "3 attempts" in session.get_prompt()[0].text
        first = session.call_tool("submit", {"answer": "<answer>999999</answer>"})
        assert (first.reward, first.finished) == (0.0, False)
        assert first.metadata["attempts_left"] == 2 and first.metadata["verdict"]["details"]["failed"]
        assert "Not accepted" in first.blocks[0].text and "2 attempts left" in first.blocks[0].text
        second = session.call_tool("submit", {"answer": "no tags, not numbers"})
        assert (second.reward, second.finished) == (0.0, False)
        third = session.call_tool("submit", {"answer": answer})
        assert third.finished is True and third.reward == pytest.approx(0.25)  # 1 x 0.5 ** (3 - 1)


def test_run_python_keeps_variables_between_calls(client_a) -> None:
    env = client_a.environments.get("arith")
    with env.session(split="train", index=0) as session:
        first = session.call_tool("run_python", {"code": "x = 6\ndef times(a): return a * x"})
        assert first.reward is None and first.finished is False
        second = session.call_tool("run_python", {"code": "times(7)"})
        assert second.blocks[0].text == "42"
        out = session.call_tool("submit", {"answer": second.blocks[0].text})
        assert (out.reward, out.finished) == (1.0, True)


def test_the_reference_never_leaves_the_server(ors_url: str) -> None:
    sid = open_session(ors_url, "arith", task_spec={"row": 1})
    seen: list[str] = []
    with http(ors_url, KEY_A, sid) as c:
        for path in ("/arith/prompt", "/arith/tools", "/arith/task_tools", "/arith/splits"):
            seen.append(c.get(path).text)
        seen.append(c.post("/arith/tasks", json={"split": "train"}).text)
        result, lines = call_tool(ors_url, sid, "submit", {"answer": "7093480"})
        seen.append("\n".join(lines))
        assert result["output"]["reward"] == 0.0 and result["output"]["finished"] is True
        seen.append(c.get("/arith/verdict").text)
        assert c.get("/arith/verdict").json()["verdict"]["status"] == "ok"
    assert not any(SECRET_REFERENCE in text for text in seen)


def test_final_verdict_is_kept_after_the_session_closes(ors_url: str) -> None:
    sid = open_session(ors_url, "arith", split="test", index=0)
    result, _ = call_tool(ors_url, sid, "submit", {"answer": "4"})
    assert result["output"]["reward"] == 1.0
    with http(ors_url, KEY_A, sid) as c:
        assert c.post("/delete").status_code == 200
        summary = c.get("/verdict").json()
    assert summary["closed"] == "deleted" and summary["finished"] is True
    assert summary["verdict"]["reward"] == 1.0 and summary["verdict"]["verifier"].startswith("math")


def test_sse_framing_pings_and_reconnection(ors_url: str) -> None:
    sid = open_session(ors_url, "arith", split="train", index=0)
    call_tool(ors_url, sid, "run_python", {"code": "n = 0"})
    # A slow call gets keep-alive comments (the server pings every 0.3 s here) before its result.
    result, lines = call_tool(ors_url, sid, "run_python", {"code": "import time; time.sleep(1.2); n += 1; n"},
                              task_id="slow-1")
    assert result["output"]["blocks"][0]["text"] == "1"
    assert lines[0].startswith("event: task_id") and lines[1] == "data: slow-1"
    assert sum(line.startswith(":") for line in lines) >= 2
    # Reconnecting with the same task id streams the same result; the cell does not run again.
    again, _ = call_tool(ors_url, sid, "run_python", {"code": "ignored"}, task_id="slow-1")
    assert again == result
    count, _ = call_tool(ors_url, sid, "run_python", {"code": "n"})
    assert count["output"]["blocks"][0]["text"] == "1"
    # A result over 4 KiB arrives as chunk events joined by the client.
    big, lines = call_tool(ors_url, sid, "run_python", {"code": "print('ab ' * 5000)"})
    assert big["output"]["blocks"][0]["text"] == ("ab " * 5000).rstrip("\n")
    assert sum(line == "event: chunk" for line in lines) >= 3


def test_create_session_answers_json_or_sse(ors_url: str) -> None:
    with http(ors_url) as c:
        plain = c.post("/create_session")
        assert plain.headers["content-type"] == "application/json" and plain.json()["sid"]
        streamed = c.post("/create_session", headers={"Accept": "text/event-stream"})
        assert streamed.headers["content-type"].startswith("text/event-stream")
        assert streamed.text.startswith("event: task_id\ndata: ") and "event: end" in streamed.text
        for sid in (plain.json()["sid"], streamed.text.split("\n")[1][6:]):
            assert c.post("/delete_session", headers={"X-Session-ID": sid}).json() == {"sid": sid}


def test_protocol_errors_have_the_specified_status(ors_url: str) -> None:
    with http(ors_url) as c:
        assert c.get("/nonexistent/tools").status_code == 404
        assert c.post("/sudoku/tasks", json={"split": "nope"}).status_code == 400
        assert c.post("/sudoku/task", json={"split": "train", "index": 50}).status_code == 400
        assert c.post("/create", json={"env_name": "sudoku", "split": "train", "index": 0}).status_code == 400
        assert "detail" in c.get("/prompt", headers={"X-Session-ID": "never-issued"}).json()
        assert c.get("/prompt", headers={"X-Session-ID": "never-issued"}).status_code == 404
        sid = c.post("/create_session").json()["sid"]
        bad = c.post("/create", headers={"X-Session-ID": sid}, json={"env_name": "sudoku", "task_spec": {"row": 1}})
        assert bad.status_code == 400 and "instance_id" in bad.json()["detail"]
        c.post("/delete", headers={"X-Session-ID": sid})
    sid = open_session(ors_url, "sudoku", split="train", index=0)
    result, _ = call_tool(ors_url, sid, "no_such_tool", {})
    assert result == {"ok": False, "error": result["error"], "reason": "not_found"}
    result, _ = call_tool(ors_url, sid, "submit", {"answer": "1", "extra": 2})
    assert result["reason"] == "input_validation"
    result, _ = call_tool(ors_url, sid, "run_python", {"code": "1"})  # sudoku does not offer it here
    assert result["reason"] == "not_found" and json.dumps(result)
