"""Runtime verifiers through the HTTP API and the CLI, on real `referee serve` processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import running_server

REFEREE = str(Path(sys.executable).parent / "referee")
ADMIN, SCORER = "admin-key-for-tests", "scoring-key-for-tests"
SECRET = "server-secret-value-3141"

EQUALS = """
def score(completion, reference, params):
    answer = completion.strip().lower()
    if not answer:
        return {"reward": 0.0, "status": "wrong_format", "details": {"why": "empty"}}
    return {"reward": float(answer == str(reference).lower()), "details": {"answer": answer[:50]}}
"""

# Normal on its golden examples, hostile on demand: each branch is one thing untrusted code tries.
HOSTILE = """
import os, socket, sys

def score(completion, reference, params):
    if completion == "env":
        return {"reward": 0.0, "details": {"env": dict(os.environ)}}
    if completion == "socket":
        socket.create_connection(("127.0.0.1", int(params.get("port", 80))), timeout=1)
        return 1.0
    if completion == "loop":
        while True:
            pass
    if completion == "fork":
        while True:
            try:
                os.fork()
            except OSError:
                pass
    if completion == "exit":
        os._exit(0)
    if completion == "nan":
        return float("nan")
    if completion == "string":
        return "1.0"
    return float(completion.strip() == str(reference))
"""

LAX = """
def score(completion, reference, params):
    return float(any(ch.isdigit() for ch in completion))
"""


def _spec(name: str, version: int = 1, **definition) -> dict:
    return {"name": name, "version": version, "time_budget_ms": 2000,
            "accept": [{"completion": "42", "reference": "42"}],
            "reject": [{"completion": "forty-one", "reference": "42"}], **definition}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store") / "verifiers.json"


@pytest.fixture(scope="module")
def url(store):
    env = {"REFEREE_VERIFIER_STORE": str(store), "REFEREE_ADMIN_KEYS": ADMIN, "REFEREE_API_KEYS": SCORER,
           "REFEREE_TEST_SECRET": SECRET, "REFEREE_ADMISSION_TIMEOUT_S": "15"}
    with running_server("--workers", "2", "--timeout", "8", env=env) as base:
        yield base


@pytest.fixture(scope="module")
def admin(url):
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {ADMIN}"}, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def scorer(url):
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {SCORER}"}, timeout=120) as client:
        yield client


def _register(admin: httpx.Client, spec: dict) -> httpx.Response:
    return admin.post("/v1/verifiers", json=spec)


def _verify(client: httpx.Client, items: list[dict], timeout_s: float | None = None) -> list[dict]:
    body = {"items": items} | ({"timeout_s": timeout_s} if timeout_s else {})
    response = client.post("/v1/verify", json=body)
    assert response.status_code == 200, response.text
    return response.json()["verdicts"]


def test_preset_composite_and_python_are_admitted_and_score_on_the_workers(admin, scorer):
    preset = _spec("t:exact-strict", kind="preset", base="exact", params={"case_sensitive": True})
    preset["accept"] = [{"completion": "Paris", "reference": "Paris"}]
    preset["reject"] = [{"completion": "paris", "reference": "Paris"}]
    composite = _spec("t:math-and-format", kind="composite", parts=[
        {"verifier": "math", "weight": 0.8}, {"verifier": "regex", "weight": 0.2, "reference": r"\\boxed\{\d+\}",
                                              "params": {"mode": "search"}}])
    composite["accept"] = [{"completion": "so \\boxed{42}", "reference": "42", "min_reward": 1.0}]
    composite["reject"] = [{"completion": "so \\boxed{41}", "reference": "42", "max_reward": 0.2}]
    composite["probe"] = {"allow": ["hedge_boxed"]}  # the format part pays 0.2 for any boxed number, by design
    python = _spec("t:equals", kind="python", source=EQUALS)
    for spec in (preset, composite, python):
        response = _register(admin, spec)
        assert response.status_code == 201, response.text
        stages = [s["stage"] for s in response.json()["report"]["stages"]]
        assert stages == ["compile", "golden", "determinism", "time_budget", "probe"]

    items = []
    for i in range(120):  # enough for both workers to take chunks
        items.append({"id": f"p{i}", "verifier": "t:equals", "completion": str(40 + i % 4), "reference": "42"})
    items += [{"id": "s1", "verifier": "t:exact-strict", "completion": "Paris", "reference": "Paris"},
              {"id": "s2", "verifier": "t:exact-strict@1", "completion": "PARIS", "reference": "Paris"},
              {"id": "c1", "verifier": "t:math-and-format", "completion": "\\boxed{42}", "reference": "42"},
              {"id": "c2", "verifier": "t:math-and-format", "completion": "\\boxed{7}", "reference": "42"}]
    verdicts = {v["id"]: v for v in _verify(scorer, items)}
    python_rewards = [verdicts[f"p{i}"]["reward"] for i in range(120)]
    assert python_rewards == [1.0 if i % 4 == 2 else 0.0 for i in range(120)]
    assert {verdicts[f"p{i}"]["verifier"] for i in range(120)} == {"t:equals@1"}
    assert verdicts["p2"]["details"]["answer"] == "42"
    assert (verdicts["s1"]["reward"], verdicts["s2"]["reward"]) == (1.0, 0.0)
    assert verdicts["c1"]["reward"] == pytest.approx(1.0) and verdicts["c2"]["reward"] == pytest.approx(0.2)
    assert verdicts["c1"]["components"] == {"math": 1.0, "regex": 1.0}


def test_hostile_source_is_contained_and_answered_with_a_status(admin, scorer, url):
    port = int(url.rsplit(":", 1)[1])
    assert _register(admin, _spec("t:hostile", kind="python", source=HOSTILE)).status_code == 201
    kinds = ["env", "socket", "loop", "fork", "exit", "nan", "string", "42"]
    items = [{"id": k, "verifier": "t:hostile", "completion": k, "reference": "42", "params": {"port": port}}
             for k in kinds]
    verdicts = {v["id"]: v for v in _verify(scorer, items, timeout_s=6)}
    assert verdicts["env"]["status"] == "ok"
    assert SECRET not in json.dumps(verdicts["env"]) and "REFEREE" not in json.dumps(verdicts["env"])
    assert verdicts["socket"]["status"] == "error"  # the service's own port is out of reach
    assert verdicts["loop"]["status"] == "timeout"
    assert verdicts["fork"]["status"] in ("timeout", "error")
    assert verdicts["exit"]["status"] == "error" and "ended its process" in verdicts["exit"]["message"]
    assert verdicts["nan"]["status"] == "error" and "not finite" in verdicts["nan"]["message"]
    assert verdicts["string"]["status"] == "error" and "returned str" in verdicts["string"]["message"]
    assert (verdicts["42"]["status"], verdicts["42"]["reward"]) == ("ok", 1.0)
    # The workers survived it all.
    assert _verify(scorer, [{"verifier": "t:equals", "completion": "42", "reference": "42"}])[0]["reward"] == 1.0


@pytest.mark.parametrize("trigger, stage, message", [
    ("loop", "golden", "timeout"),
    ("exit", "golden", "ended its process"),
    ("nan", "golden", "not finite"),
    ("string", "golden", "returned str"),
    ("env", "golden", "below min_reward"),
])
def test_registration_is_refused_when_a_golden_example_fails(admin, trigger, stage, message):
    spec = _spec(f"t:refused-{trigger}", kind="python", source=HOSTILE)
    spec["accept"] = [{"completion": "42", "reference": "42"}, {"completion": trigger, "reference": "42"}]
    spec["time_budget_ms"] = 300
    response = _register(admin, spec)
    assert response.status_code == 422, response.text
    report = response.json()["report"]
    assert report["admitted"] is False and report["failed_stage"] == stage
    assert report["failed_example"] == {"set": "accept", "index": 1}
    assert message in report["message"]
    listed = {v["spec"] for v in admin.get("/v1/verifiers").json()["verifiers"]}
    assert f"t:refused-{trigger}@1" not in listed


def test_a_nondeterministic_or_broken_definition_is_refused_at_its_stage(admin):
    flaky = _spec("t:flaky", kind="python",
                  source="import random\ndef score(c, r, p):\n    return float(c == r) if c == r else random.random() / 2\n")
    flaky["reject"][0]["max_reward"] = 0.5
    report = _register(admin, flaky).json()["report"]
    assert report["failed_stage"] == "determinism" and report["failed_example"] == {"set": "reject", "index": 0}
    broken = _spec("t:broken", kind="python", source="def score(completion, reference params):\n    return 1\n")
    report = _register(admin, broken).json()["report"]
    assert report["failed_stage"] == "compile" and "SyntaxError" in report["message"]
    nested = _spec("t:nested", kind="preset", base="composite")
    assert _register(admin, nested).json()["report"]["failed_stage"] == "compile"


def test_an_admission_that_hangs_a_built_in_is_cut_off_at_its_deadline(admin, scorer):
    # A catastrophic regex as a golden reference: the built-in regex verifier never finishes.
    spec = _spec("t:backtracking", kind="preset", base="regex", params={"mode": "search"})
    spec["accept"] = [{"completion": "aab", "reference": "(a+)+b"}]
    spec["reject"] = [{"completion": "a" * 40 + "!", "reference": "(a+)+b"}]
    response = _register(admin, spec)
    assert response.status_code == 422, response.text
    report = response.json()["report"]
    assert report["failed_stage"] == "golden" and "deadline of 15 s" in report["message"]
    assert _verify(scorer, [{"verifier": "exact", "completion": "a", "reference": "a"}])[0]["reward"] == 1.0


def test_the_probe_finds_a_lax_verifier_gameable(admin, scorer):
    lax = _spec("t:lax", kind="python", source=LAX)
    lax["reject"] = [{"completion": "I do not know", "reference": "42"}]
    response = _register(admin, lax)
    assert response.status_code == 422
    report = response.json()["report"]
    assert report["failed_stage"] == "probe"
    assert {"hedge_list", "huge_numbers"} <= set(report["probe"]["earned"])
    # Registered anyway, with the hacks it rewards declared: the probe endpoint still reports them.
    lax["probe"] = {"allow": report["probe"]["earned"]}
    assert _register(admin, lax).status_code == 201
    probe = scorer.post("/v1/verifiers/t:lax/probe").json()
    assert probe["gameable"] is True and "hedge_list" in probe["earned"]
    assert scorer.post("/v1/verifiers/t:equals/probe").json()["gameable"] is False


def test_the_probe_on_built_ins(scorer):
    math_report = scorer.post("/v1/verifiers/math/probe").json()
    assert math_report["gameable"] is False and not math_report["inconclusive"]
    hacks = {row["hack"] for row in math_report["cases"][0]["hacks"]}
    assert {"empty", "hedge_boxed", "huge_numbers", "planted_instruction", "echo_prompt"} <= hacks
    format_report = scorer.post("/v1/verifiers/format/probe").json()
    assert format_report["earned"] == ["format_only_tags"]  # it checks the format and nothing else, by design
    custom = scorer.post("/v1/verifiers/exact/probe", json={"reference": "Rome", "example": "Rome"}).json()
    assert custom["gameable"] is False and custom["cases"][0]["reference"] == "Rome"
    assert scorer.post("/v1/verifiers/nope/probe").status_code == 404


def test_listing_shows_runtime_verifiers_with_hash_and_report(admin, scorer):
    assert _register(admin, _spec("t:listed", kind="python", source=EQUALS)).status_code == 201
    listed = {v["spec"]: v for v in scorer.get("/v1/verifiers").json()["verifiers"]}
    runtime = listed["t:listed@1"]["runtime"]
    assert runtime["kind"] == "python" and runtime["source_hash"].startswith("sha256:")
    assert runtime["admission"]["admitted"] is True
    assert not any("runtime" in v for spec, v in listed.items() if spec.startswith("math@"))
    assert listed["t:listed@1"]["params_schema"]["type"] == "object"


def test_versions_are_immutable_and_a_retired_version_is_refused(admin, scorer):
    spec = _spec("t:versions", kind="python", source=EQUALS)
    assert _register(admin, spec).status_code == 201
    assert _register(admin, spec).status_code == 409
    assert _register(admin, _spec("math", kind="preset", base="exact")).status_code == 409
    response = admin.delete("/v1/verifiers/t:versions@1", params={"reason": "scored 'Paris' wrong"})
    assert response.status_code == 200, response.text
    verdict = _verify(scorer, [{"verifier": "t:versions@1", "completion": "42", "reference": "42"}])[0]
    assert verdict["status"] == "invalid_input" and "retired" in verdict["message"]
    assert "scored 'Paris' wrong" in verdict["message"]
    assert _register(admin, spec).status_code == 409  # a retired name@version is never reused
    assert _register(admin, _spec("t:versions", version=2, kind="python", source=EQUALS)).status_code == 201
    verdict = _verify(scorer, [{"verifier": "t:versions", "completion": "42", "reference": "42"}])[0]
    assert (verdict["status"], verdict["verifier"]) == ("ok", "t:versions@2")
    assert admin.delete("/v1/verifiers/t:versions@1").status_code == 409
    assert admin.delete("/v1/verifiers/exact@1").status_code == 404  # built-ins are not runtime verifiers
    retired = scorer.get("/v1/verifiers").json()["retired"]
    assert [r["spec"] for r in retired] == ["t:versions@1"]


def test_registration_needs_an_admin_key(url, scorer):
    spec = _spec("t:auth", kind="python", source=EQUALS)
    assert httpx.post(f"{url}/v1/verifiers", json=spec, timeout=60).status_code == 401
    assert scorer.post("/v1/verifiers", json=spec).status_code == 403
    assert scorer.delete("/v1/verifiers/t:equals@1").status_code == 403
    assert httpx.post(f"{url}/v1/verifiers/math/probe", timeout=60).status_code == 401


def test_registrations_survive_a_restart(tmp_path):
    store = tmp_path / "verifiers.json"
    env = {"REFEREE_VERIFIER_STORE": str(store)}
    with running_server("--workers", "1", env=env) as base:
        assert httpx.post(f"{base}/v1/verifiers", json=_spec("t:kept", kind="python", source=EQUALS),
                          timeout=120).status_code == 201
        assert httpx.post(f"{base}/v1/verifiers", json=_spec("t:gone", kind="preset", base="exact"),
                          timeout=120).status_code == 201
        assert httpx.delete(f"{base}/v1/verifiers/t:gone@1", timeout=60).status_code == 200
    with running_server("--workers", "1", env=env) as base:
        body = {"items": [{"verifier": "t:kept", "completion": "42", "reference": "42"},
                          {"verifier": "t:gone@1", "completion": "42", "reference": "42"}]}
        kept, gone = httpx.post(f"{base}/v1/verify", json=body, timeout=60).json()["verdicts"]
        assert (kept["status"], kept["reward"], kept["verifier"]) == ("ok", 1.0, "t:kept@1")
        assert gone["status"] == "invalid_input" and "retired" in gone["message"]


def test_no_registration_without_auth_on_a_non_loopback_bind(tmp_path):
    env = {"REFEREE_VERIFIER_STORE": str(tmp_path / "v.json")}
    with running_server("--workers", "1", "--host", "0.0.0.0", "--allow-no-auth", env=env) as base:
        response = httpx.post(f"{base}/v1/verifiers", json=_spec("t:open", kind="preset", base="exact"), timeout=60)
        assert response.status_code == 403 and "REFEREE_ADMIN_KEYS" in response.json()["detail"]


def test_cli_add_rm_and_probe(url, tmp_path):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(_spec("t:cli", kind="python", source=EQUALS)))
    env_args = ["--url", url, "--admin-key", ADMIN]
    added = subprocess.run([REFEREE, "verifiers", "add", str(spec_file), *env_args],
                           capture_output=True, text=True, timeout=180)
    assert added.returncode == 0, added.stderr
    assert "registered t:cli@1" in added.stderr
    probed = subprocess.run([REFEREE, "probe", "t:cli", "--url", url, "--api-key", SCORER],
                            capture_output=True, text=True, timeout=180)
    assert probed.returncode == 0, probed.stderr
    assert "no hack earned reward" in probed.stdout
    removed = subprocess.run([REFEREE, "verifiers", "rm", "t:cli@1", *env_args], capture_output=True, text=True,
                             timeout=60)
    assert removed.returncode == 0 and "retired t:cli@1" in removed.stderr
    refused = subprocess.run([REFEREE, "verifiers", "add", str(spec_file), "--url", url, "--admin-key", SCORER],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "403" in refused.stderr
