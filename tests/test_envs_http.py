"""Environments through the service and the CLI: list, sample (no references), score by id."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from envs import all_environments, get_environment
from envs.ids import encode_id

REFEREE = str(Path(sys.executable).parent / "referee")


def test_list_envs(server):
    envs = httpx.get(f"{server}/v1/envs", timeout=30).json()["envs"]
    assert {e["name"] for e in envs} == {e.name for e in all_environments()}
    sudoku = next(e for e in envs if e["name"] == "sudoku")
    assert sudoku["version"] == 1 and sudoku["config_schema"]["properties"]["size"]["enum"] == [4, 6, 9]
    assert sudoku["budget"]["max_attempts"] >= 1 and sudoku["hardest"]["size"] == 9
    listed = httpx.get(f"{server}/v1/verifiers", timeout=30).json()["verifiers"]
    assert {"env:sudoku", "env:lcs"} <= {v["name"] for v in listed}


def test_sample_then_score_by_id_through_verify(server):
    response = httpx.post(f"{server}/v1/envs/knights_knaves/sample",
                          json={"seed": 5, "n": 3, "config": {"n_people": 3}}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verifier"] == "env:knights_knaves" and len(body["instances"]) == 3
    assert [i["seed"] for i in body["instances"]] == [5, 6, 7]
    local = [get_environment("knights_knaves").rebuild(i["id"]) for i in body["instances"]]
    assert all(set(i) == {"id", "env", "version", "seed", "prompt", "metadata"} for i in body["instances"])
    assert [i["prompt"] for i in body["instances"]] == [inst.prompt for inst in local]

    items = []
    for k, inst in enumerate(local):
        items.append({"id": f"good{k}", "verifier": "env:knights_knaves", "completion": inst.answer_text(),
                      "reference": inst.id})
        flipped = {n: ("knave" if t == "knight" else "knight") for n, t in inst.solution.items()}
        items.append({"id": f"bad{k}", "verifier": "env:knights_knaves",
                      "completion": "<answer>" + ", ".join(f"{n}: {t}" for n, t in flipped.items()) + "</answer>",
                      "reference": inst.id})
    items.append({"id": "fmt", "verifier": "env:knights_knaves", "completion": "no idea", "reference": local[0].id})
    verdicts = httpx.post(f"{server}/v1/verify", content=orjson.dumps({"items": items}), timeout=120).json()["verdicts"]
    by_id = {v["id"]: v for v in verdicts}
    for k in range(3):
        assert by_id[f"good{k}"]["reward"] == 1.0 and by_id[f"good{k}"]["verifier"] == "env:knights_knaves@1"
        assert by_id[f"bad{k}"]["reward"] == 0.0 and by_id[f"bad{k}"]["details"]["failed"] == "statement"
    assert by_id["fmt"]["status"] == "wrong_format"


def test_sampling_never_sends_the_reference(server):
    response = httpx.post(f"{server}/v1/envs/sudoku/sample", json={"seed": 1, "n": 2}, timeout=60)
    assert response.status_code == 200
    for public in response.json()["instances"]:
        solution = get_environment("sudoku").rebuild(public["id"]).solution
        for row in solution:  # no full solution row appears anywhere in the response
            assert " ".join(map(str, row)) not in response.text and json.dumps(row, separators=(",", ":")) not in response.text


def test_every_env_scores_through_verify(server):
    items = []
    for env in all_environments():
        inst = env.sample(2)
        items.append({"id": env.name, "verifier": f"env:{env.name}", "completion": inst.answer_text(),
                      "reference": inst.id})
    verdicts = httpx.post(f"{server}/v1/verify", content=orjson.dumps({"items": items}), timeout=120).json()["verdicts"]
    assert {v["id"]: (v["status"], v["reward"]) for v in verdicts} == {i["id"]: ("ok", 1.0) for i in items}


def test_bad_ids_through_verify_are_invalid_input(server):
    env = get_environment("lcs")
    foreign = encode_id("lcs", env.version + 1, 0, env.parse_config({}).model_dump(mode="json"))
    good = env.sample(0).id
    items = [
        {"verifier": "env:lcs", "completion": "<answer>a</answer>", "reference": foreign},
        {"verifier": "env:lcs", "completion": "<answer>a</answer>", "reference": good[:-2] + "zz"},
        {"verifier": "env:lcs", "completion": "<answer>a</answer>"},
        {"verifier": "env:sudoku", "completion": "<answer>a</answer>", "reference": good},
    ]
    verdicts = httpx.post(f"{server}/v1/verify", content=orjson.dumps({"items": items}), timeout=60).json()["verdicts"]
    assert [v["status"] for v in verdicts] == ["invalid_input"] * 4
    assert f"made by lcs version {env.version + 1}" in verdicts[0]["message"]
    assert "checksum" in verdicts[1]["message"]
    assert "belongs to environment 'lcs'" in verdicts[3]["message"]


def test_sample_errors(server):
    post = lambda path, body: httpx.post(f"{server}{path}", json=body, timeout=30)  # noqa: E731
    assert post("/v1/envs/nope/sample", {}).status_code == 404
    bad = post("/v1/envs/sudoku/sample", {"config": {"size": 5}})
    assert bad.status_code == 422 and "size" in bad.json()["detail"]
    assert post("/v1/envs/sudoku/sample", {"config": {"cheat": 1}}).status_code == 422
    assert post("/v1/envs/sudoku/sample", {"n": 100_000}).status_code == 422
    assert post("/v1/envs/sudoku/sample", {"seed": -1}).status_code == 422
    # 6x6 boards without blocked cells always have 4 placements: max_solutions=1 cannot be met
    exhausted = post("/v1/envs/n_queens/sample", {"config": {"n": 6, "blocked_fraction": 0.0, "max_solutions": 1}})
    assert exhausted.status_code == 422 and "no acceptable instance in 60 attempts" in exhausted.json()["detail"]


def test_cli_list_sample_export(tmp_path):
    listed = subprocess.run([REFEREE, "envs", "list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "sudoku@1" in listed.stdout and "knobs:" in listed.stdout

    sampled = subprocess.run([REFEREE, "envs", "sample", "subset_sum", "--seed", "4", "--n", "2",
                              "--config", '{"n_numbers": 6}'], capture_output=True, text=True, timeout=60)
    assert sampled.returncode == 0, sampled.stderr
    rows = [json.loads(line) for line in sampled.stdout.splitlines()]
    assert [r["seed"] for r in rows] == [4, 5] and all("reference" not in r and "solution" not in r for r in rows)
    assert rows[0]["id"] == get_environment("subset_sum").sample(4, {"n_numbers": 6}).id

    out = tmp_path / "data.jsonl"
    exported = subprocess.run([REFEREE, "envs", "export", "lcs", "--n", "20", "-o", str(out)],
                              capture_output=True, text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    assert "20/20" in exported.stderr  # the progress bar
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 20 and {"id", "prompt", "reference", "answer"} <= set(rows[0])
    env = get_environment("lcs")
    assert all(env.score(r["id"], r["answer"]).reward == 1.0 for r in rows)

    bad = subprocess.run([REFEREE, "envs", "sample", "sudoku", "--config", '{"size": 5}'],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "bad config for sudoku@1" in bad.stderr
    not_json = subprocess.run([REFEREE, "envs", "sample", "sudoku", "--config", "{size: 4}"],
                              capture_output=True, text=True, timeout=60)
    assert not_json.returncode == 2 and "--config: not JSON" in not_json.stderr


def test_concurrent_sample_requests_agree(server):
    from concurrent.futures import ThreadPoolExecutor

    def fetch(_: int) -> list[str]:
        body = {"seed": 40, "n": 3, "config": {"size": 6}}
        response = httpx.post(f"{server}/v1/envs/sudoku/sample", json=body, timeout=120)
        assert response.status_code == 200
        return [i["prompt"] for i in response.json()["instances"]]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(fetch, range(4)))
    assert all(r == results[0] for r in results)
    assert results[0] == [get_environment("sudoku").sample(40 + k, {"size": 6}).prompt for k in range(3)]


def test_cli_against_a_server(server):
    sampled = subprocess.run([REFEREE, "envs", "sample", "lcs", "--seed", "9", "--n", "2", "--url", server],
                             capture_output=True, text=True, timeout=60)
    assert sampled.returncode == 0, sampled.stderr
    rows = [json.loads(line) for line in sampled.stdout.splitlines()]
    assert [r["id"] for r in rows] == [get_environment("lcs").sample(s).id for s in (9, 10)]
    listed = subprocess.run([REFEREE, "envs", "list", "--url", server], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "kenken@1" in listed.stdout
    bad = subprocess.run([REFEREE, "envs", "sample", "nope", "--url", server], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "404" in bad.stderr
