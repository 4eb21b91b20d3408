"""Judge configuration from a file and the environment, and how items pick a judge."""

from __future__ import annotations

import json

import pytest

import verifiers
from judge_servers import Reply, chat_completion
from verifiers.judge import JudgeConfigError, JudgeVerifier, load_judge_configs


def test_toml_file_with_env_overrides(tmp_path):
    path = tmp_path / "judges.toml"
    path.write_text('''
[judges.default]
base_url = "http://127.0.0.1:8000/v1/"
model = "qwen"
api_key_env = "MY_KEY"

[judges.Strict_Judge]
base_url = "https://judge.example/v1"
model = "big"
max_concurrency = 2
''')
    env = {"REFEREE_JUDGES": str(path), "REFEREE_JUDGE_DEFAULT_MAX_CONCURRENCY": "32",
           "REFEREE_JUDGE_STRICT_JUDGE_REQUESTS_PER_SECOND": "2.5",
           "REFEREE_JUDGE_LOCAL_BASE_URL": "http://127.0.0.1:9000/v1", "REFEREE_JUDGE_LOCAL_MODEL": "tiny",
           "REFEREE_JUDGE_LOCAL_EXTRA_BODY": '{"top_k": 1}'}
    configs = load_judge_configs(env)
    assert sorted(configs) == ["default", "local", "strict_judge"]
    assert configs["default"].base_url == "http://127.0.0.1:8000/v1"  # trailing slash dropped
    assert configs["default"].max_concurrency == 32 and configs["default"].api_key_env == "MY_KEY"
    assert configs["strict_judge"].requests_per_second == 2.5 and configs["strict_judge"].max_concurrency == 2
    assert configs["local"].extra_body == {"top_k": 1}


def test_json_file(tmp_path):
    path = tmp_path / "judges.json"
    path.write_text(json.dumps({"judges": {"j": {"base_url": "http://h/v1", "model": "m", "json_mode": "off"}}}))
    assert load_judge_configs({"REFEREE_JUDGES": str(path)})["j"].json_mode == "off"


@pytest.mark.parametrize("content, expected", [
    ("[judges.x]\nmodel = 'm'\n", "base_url"),
    ("[judges.x]\nbase_url = 'ftp://h'\nmodel = 'm'\n", "http"),
    ("[judges.x]\nbase_url = 'http://h'\nmodel = 'm'\napi_key = 'sk-inline'\n", "api_key"),
    ("not toml at all [", "does not parse"),
    ("[other]\na = 1\n", "'judges' table"),
])
def test_bad_files_are_explained(tmp_path, content, expected):
    path = tmp_path / "judges.toml"
    path.write_text(content)
    with pytest.raises(JudgeConfigError, match=expected):
        load_judge_configs({"REFEREE_JUDGES": str(path)})


def test_missing_file_is_explained(tmp_path):
    with pytest.raises(JudgeConfigError, match="cannot read"):
        load_judge_configs({"REFEREE_JUDGES": str(tmp_path / "nope.toml")})


def test_unknown_judge_is_invalid_input(tmp_path, monkeypatch):
    monkeypatch.setenv("REFEREE_JUDGE_ONLY_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("REFEREE_JUDGE_ONLY_MODEL", "m")
    v = verifiers.verify("judge", completion="x", params={"judge": "other"})
    assert v.status == "invalid_input" and "unknown judge 'other'" in v.message and "only" in v.message


@pytest.mark.parametrize("params, reference, expected", [
    ({"mode": "reference"}, None, "needs reference.answer"),
    ({"mode": "pairwise"}, {"prompt": "q"}, "needs reference.other"),
    ({"mode": "principles"}, None, "at least one principle"),
    ({"mode": "rubric", "scale_min": 5, "scale_max": 5}, None, "scale_max"),
    ({"mode": "rubric", "api_key": "sk"}, None, "api_key"),
    ({"mode": "rubric"}, {"prompt": "q", "bogus": 1}, "bogus"),
])
def test_bad_items_are_invalid_input(params, reference, expected):
    v = verifiers.verify("judge", completion="x", reference=reference, params=params,
                         registry=verifiers.Registry([JudgeVerifier({})]))
    assert v.status == "invalid_input" and expected in v.message


def test_python_api_reads_edited_config(scripted, tmp_path, monkeypatch):
    """`verifiers.verify` on the default registry picks up the judges file, and edits to it."""
    first = scripted(lambda n, req: Reply(200, chat_completion('{"score": 10}')))
    second = scripted(lambda n, req: Reply(200, chat_completion('{"score": 1}')))
    path = tmp_path / "judges.toml"
    path.write_text(f'[judges.default]\nbase_url = "{first.base_url}"\nmodel = "m"\n')
    monkeypatch.setenv("REFEREE_JUDGES", str(path))
    v = verifiers.verify("judge", completion="fine", params={"critique": False})
    assert v.status == "ok" and v.reward == 1.0 and v.verifier == "judge@2"
    path.write_text(f'[judges.default]\nbase_url = "{second.base_url}"\nmodel = "m"\n# edited\n')
    v = verifiers.verify("judge", completion="fine", params={"critique": False})
    assert v.status == "ok" and v.reward == 0.0
    assert len(first.chat_requests) == 1 and len(second.chat_requests) == 1


def test_broken_config_is_an_error_at_scoring_time(tmp_path, monkeypatch):
    path = tmp_path / "judges.toml"
    path.write_text("[judges.default]\nmodel = 'm'\n")
    monkeypatch.setenv("REFEREE_JUDGES", str(path))
    v = verifiers.verify("judge", completion="x")
    assert v.status == "error" and "base_url" in v.message
