"""The trainer-compatible endpoints, called by the trainers' own code (OpenRLHF, SandboxFusion's
client, verl's SandboxFusion check) or with the exact request shapes their sources send (slime,
NeMo Gym), against a real `referee serve`."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from server.routes.compat_openrlhf import response_of

# A chat-templated prompt as OpenRLHF's dataset renders it, and a query as its executor decodes
# it (prompt + response, special tokens kept).
PROMPT = "<|im_start|>user\nWhat is 6*7? Put the answer in \\boxed{}.<|im_end|>\n<|im_start|>assistant\n"


def query(response: str) -> str:
    return PROMPT + response + "<|im_end|>"


@pytest.fixture
def openrlhf_executor(trainer_code):
    """OpenRLHF's own executor (openrlhf/utils/agent.py), whose reward fetch posts to the URL."""
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    return SingleTurnAgentExecutor


# -- OpenRLHF ----------------------------------------------------------------------------------------


def test_openrlhf_per_rollout_requests_from_its_own_executor(server, openrlhf_executor):
    url = f"{server}/v1/compat/openrlhf?verifier=math"
    assert "," not in url  # OpenRLHF splits --reward.remote_url on commas
    executor = openrlhf_executor(url)
    rows = [
        (query("6*7 = \\boxed{42}"), "42", 1.0),
        (query("I think \\boxed{41}"), "42", 0.0),
        (query("no box at all"), "42", 0.0),
        (query("\\boxed{42}<|endoftext|>\n"), "42", 1.0),
    ]

    async def one_each():  # current releases: one rollout per request, many at once
        return await asyncio.gather(*(executor._fetch_rewards_via_http([q], [PROMPT], [label])
                                      for q, label, _ in rows))

    answers = asyncio.run(one_each())
    assert [a[0]["rewards"] for a in answers] == [[want] for *_, want in rows]
    assert all(a[0]["scores"] == a[0]["rewards"] for a in answers)
    assert all(a[0]["extra_logs"]["referee_unscorable"] == [0.0] for a in answers)


def test_openrlhf_batched_request_keeps_order(server, openrlhf_executor):
    executor = openrlhf_executor(f"{server}/v1/compat/openrlhf?verifier=math")
    answers = [str(n) for n in range(40)]
    queries = [query(f"\\boxed{{{n if n % 3 else n + 1}}}") for n in range(40)]
    (answer,) = asyncio.run(executor._fetch_rewards_via_http(queries, [PROMPT] * 40, answers))
    assert answer["rewards"] == [0.0 if n % 3 == 0 else 1.0 for n in range(40)]


def test_openrlhf_a_prompt_quoting_the_label_earns_nothing(server, openrlhf_executor):
    leaky = "<|im_start|>user\nThe answer is \\boxed{42}. Say something.<|im_end|>\n<|im_start|>assistant\n"
    executor = openrlhf_executor(f"{server}/v1/compat/openrlhf?verifier=math")
    (answer,) = asyncio.run(executor._fetch_rewards_via_http(
        [leaky + "hello<|im_end|>", "<s>" + leaky + "\\boxed{42}<|im_end|>", "some other text \\boxed{42}"],
        [leaky, leaky, leaky], ["42", "42", "42"]))
    # the response alone is scored; a BOS before the prompt is fine; a query without its prompt is refused
    assert answer["rewards"] == [0.0, 1.0, 0.0]
    assert answer["extra_logs"]["referee_invalid_input"] == [0.0, 0.0, 1.0]


def test_openrlhf_labels_name_their_verifier_and_unscorable_rows_are_counted(server, openrlhf_executor):
    executor = openrlhf_executor(f"{server}/v1/compat/openrlhf")  # no default verifier
    labels = [json.dumps({"verifier": "exact", "reference": "Paris"}),
              json.dumps({"verifier": "math", "reference": "42"}),
              json.dumps({"verifier": "no-such-verifier", "reference": "x"}),
              "plain label, but no verifier anywhere"]
    responses = ["Paris", "\\boxed{42}", "x", "y"]
    (answer,) = asyncio.run(executor._fetch_rewards_via_http(
        [query(r) for r in responses], [PROMPT] * 4, labels))
    assert answer["rewards"] == [1.0, 1.0, 0.0, 0.0]
    assert answer["extra_logs"]["referee_invalid_input"] == [0.0, 0.0, 1.0, 1.0]
    assert set(answer["extra_logs"]) == {"referee_timeout", "referee_error", "referee_invalid_input",
                                         "referee_unscorable"}


def test_openrlhf_on_error_fail_and_bad_requests(server):
    base = f"{server}/v1/compat/openrlhf"
    body = {"query": [query("x")], "prompts": [PROMPT], "labels": ["1"]}
    r = httpx.post(f"{base}?verifier=no-such&on_error=fail", json=body)
    assert r.status_code == 502 and "invalid_input" in r.json()["detail"]
    assert httpx.post(f"{base}?verifier=math", json=body | {"prompts": []}).status_code == 422
    assert httpx.post(f"{base}?verifier=math&params=%7Bnot", json=body).status_code == 422
    params = quote(json.dumps({"case_sensitive": True, "whitespace": "remove"}), safe="")
    url = f"{base}?verifier=exact&params={params}"
    assert "," not in url  # encoded, so OpenRLHF's split on commas leaves it whole
    two = {"query": [query("Pa ris"), query("pa ris")], "prompts": [PROMPT] * 2, "labels": ["Paris"] * 2}
    assert httpx.post(url, json=two).json()["rewards"] == [1.0, 0.0]  # both params reached the verifier


def test_openrlhf_hostile_rows_get_verdicts_not_errors(server):
    url = f"{server}/v1/compat/openrlhf?verifier=exact"
    empty = httpx.post(url, json={"query": [], "prompts": [], "labels": []}).json()
    assert empty["rewards"] == [] and empty["extra_logs"]["referee_unscorable"] == []
    no_labels = httpx.post(url, json={"query": [query("a")], "prompts": [PROMPT]}).json()
    assert no_labels["rewards"] == [0.0]  # exact needs a reference: invalid_input, counted
    odd = {"query": [query("7"), query("x"), query("x"), query("\x00\u202e")], "prompts": [PROMPT] * 4,
           "labels": [7, {"answer": "x"}, '{"verifier": 5}', "\x00\u202e"]}
    answer = httpx.post(url, json=odd)
    assert answer.status_code == 200, answer.text
    # labels reach the verifier as they are: exact refuses an int or an object reference; a label
    # spec with a non-string verifier is refused; control characters score like any text
    assert answer.json()["rewards"] == [0.0, 0.0, 0.0, 1.0]
    assert answer.json()["extra_logs"]["referee_invalid_input"] == [1.0, 1.0, 1.0, 0.0]
    assert httpx.post(url, json={"query": "not a list", "prompts": []}).status_code == 422


def test_label_specs():
    from server.routes.compat_common import label_spec

    assert label_spec('{"verifier": "math", "reference": "4"}') == {"verifier": "math", "reference": "4"}
    assert label_spec({"reference": [1, 2]}) == {"reference": [1, 2]}
    assert label_spec('{"answer": "4"}') is None  # some other object: the label is the reference
    assert label_spec("{not json") is None and label_spec("4") is None and label_spec(None) is None
    assert label_spec({}) is None and label_spec('{"params": {}}') is None


def test_response_of_strips_prompt_and_end_tokens():
    tokens = ("<|im_end|>", "<|endoftext|>")
    assert response_of("P: hi<|im_end|>\n<|endoftext|>", "P:", tokens) == " hi"
    assert response_of("P:<|im_end|>", "P:", tokens) == ""
    assert response_of("Q: hi", "P:", tokens) is None
    assert response_of("<s>P: a <|im_end|>b<|im_end|>", "P:", tokens) == " a <|im_end|>b"


# -- slime ------------------------------------------------------------------------------------------


def test_slime_remote_rm_shape(server):
    # slime/rollout/rm_hub: POST {"prompt", "response", "label"} per rollout; the JSON answer is the reward
    url = f"{server}/v1/compat/slime?verifier=math"
    payload = {"prompt": [{"role": "user", "content": "6*7?"}], "response": "so \\boxed{42}", "label": "42"}
    assert httpx.post(url, json=payload).json() == 1.0
    assert httpx.post(url, json=payload | {"response": "\\boxed{41}"}).json() == 0.0
    full = httpx.post(url + "&full=1", json=payload).json()
    assert full["reward"] == 1.0 and full["status"] == "ok" and full["unscorable"] is False
    broken = httpx.post(f"{server}/v1/compat/slime?verifier=nope&full=1", json=payload).json()
    assert broken["reward"] == 0.0 and broken["status"] == "invalid_input" and "unknown verifier" in broken["message"]
    assert httpx.post(f"{server}/v1/compat/slime?verifier=nope&on_error=fail", json=payload).status_code == 502
    assert httpx.post(url, json={"prompt": "p"}).status_code == 422


# -- NeMo Gym ---------------------------------------------------------------------------------------


def responses_object(*texts: str) -> dict:
    """An OpenAI Responses-API object as NeMo Gym's model servers return it (reasoning, then the answer)."""
    return {
        "id": "resp_1", "object": "response", "created_at": 0, "model": "policy", "status": "completed",
        "output": [
            {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "\\boxed{41}?"}]},
            *({"id": f"msg_{i}", "type": "message", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": text, "annotations": []}]} for i, text in enumerate(texts)),
        ],
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
    }


def test_nemo_gym_resources_server_protocol(server):
    base = f"{server}/v1/compat/nemo-gym/math"
    row = {"responses_create_params": {"input": [{"role": "user", "content": "6*7?"}]},
           "expected_answer": "42", "_ng_task_index": 3}
    assert httpx.post(f"{base}/seed_session", json=row).json() == {}
    good = httpx.post(f"{base}/verify", json=row | {"response": responses_object("It is ", "\\boxed{42}")}).json()
    assert good["reward"] == 1.0 and good["expected_answer"] == "42" and good["_ng_task_index"] == 3
    assert good["referee_status"] == "ok" and isinstance(good["reward_components"], dict)
    wrong = httpx.post(f"{base}/verify", json=row | {"response": responses_object("\\boxed{40}")}).json()
    assert wrong["reward"] == 0.0  # the reasoning item's \boxed{41} is not the answer either
    broken = httpx.post(f"{base}/verify", json=row | {"response": "not an object"}).json()
    assert broken["reward"] == 0.0 and broken["referee_status"] == "invalid_input"
    other_key = httpx.post(f"{base}/verify?reference_key=answer",
                           json={"answer": "40", "response": responses_object("\\boxed{40}")}).json()
    assert other_key["reward"] == 1.0
    metrics = httpx.post(f"{base}/aggregate_metrics",
                         json={"verify_responses": [good, wrong, broken | {"_ng_task_index": 4}]}).json()
    assert metrics["agent_metrics"]["mean/reward"] == pytest.approx(1 / 3)
    assert metrics["key_metrics"]["mean/referee_unscorable"] == pytest.approx(1 / 3)
    assert [g["_ng_task_index"] for g in metrics["group_level_metrics"]] == [3, 4]
    assert httpx.post(f"{base}/aggregate_metrics", json={"verify_responses": []}).json()["agent_metrics"] == {}


# -- SandboxFusion ----------------------------------------------------------------------------------


def test_sandbox_fusion_client_package_run_code(server):
    from sandbox_fusion import RunCodeRequest, RunStatus, run_code

    endpoint = f"{server}/v1/compat/sandbox-fusion"
    ok = run_code(RunCodeRequest(code="print(input()[::-1])", stdin="abc", language="python"), endpoint=endpoint)
    assert ok.status == RunStatus.Success and ok.run_result.stdout == "cba\n" and ok.run_result.return_code == 0
    assert ok.compile_result is None and ok.run_result.execution_time > 0
    cpp = run_code(RunCodeRequest(code="#include <cstdio>\nint main(){puts(\"hi\");}", language="cpp"),
                   endpoint=endpoint)
    assert cpp.status == RunStatus.Success and cpp.run_result.stdout == "hi\n"
    assert cpp.compile_result is not None and cpp.compile_result.return_code == 0
    broken_cpp = run_code(RunCodeRequest(code="int main( {", language="cpp"), endpoint=endpoint)
    assert broken_cpp.status == RunStatus.Failed and broken_cpp.run_result is None
    assert broken_cpp.compile_result.return_code != 0
    crash = run_code(RunCodeRequest(code="import sys; print('x'); sys.exit(3)", language="python"), endpoint=endpoint)
    assert crash.status == RunStatus.Failed and crash.run_result.return_code == 3
    slow = run_code(RunCodeRequest(code="while True: pass", language="python", run_timeout=1), endpoint=endpoint)
    assert slow.status == RunStatus.Failed and slow.run_result.status.value == "TimeLimitExceeded"
    syntax = run_code(RunCodeRequest(code="def (:", language="python"), endpoint=endpoint)
    assert syntax.status == RunStatus.Failed and syntax.run_result.return_code != 0
    node = run_code(RunCodeRequest(code="console.log(6*7)", language="nodejs"), endpoint=endpoint)
    assert node.status == RunStatus.Success and node.run_result.stdout == "42\n"
    # files are base64, as SandboxFusion sends them
    files = run_code(RunCodeRequest(code="print(open('data.txt').read())", language="python",
                                    files={"data.txt": "aGVsbG8="}), endpoint=endpoint)
    assert files.run_result.stdout == "hello\n"


def test_sandbox_fusion_refusals_are_sandbox_errors(server):
    url = f"{server}/v1/compat/sandbox-fusion/run_code"
    for body in ({"code": "print(1)", "language": "lua"},
                 {"code": "print(1)", "language": "python", "fetch_files": ["out.txt"]},
                 {"code": "print(1)", "language": "python", "files": {"../escape": "aGk="}},
                 {"code": "print(1)", "language": "python", "files": {"a": "not base64!"}}):
        answer = httpx.post(url, json=body).json()
        assert answer["status"] == "SandboxError" and answer["message"], body
    assert httpx.post(url, json={"language": "python"}).status_code == 422


def _load_verl_file(trainer_code: Path, relative: str):
    """A module file of verl's distribution, loaded alone: `import verl` needs ray and tensordict
    (GPU-cluster weight), while these files need only the standard library and requests."""
    path = trainer_code / "verl" / relative
    module_spec = importlib.util.spec_from_file_location(f"verl_file_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    return module


def test_verl_sandbox_fusion_check_correctness(server, trainer_code):
    verl_sandbox = _load_verl_file(trainer_code, "utils/reward_score/sandbox_fusion/utils.py")
    url = f"{server}/v1/compat/sandbox-fusion/run_code"
    tests = {"inputs": ["1 2\n", "3 4\n", "10 -3\n"], "outputs": ["3\n", "7\n", "7\n"]}
    solution = "a, b = map(int, input().split())\nprint(a + b)"
    results, metadata = verl_sandbox.check_correctness(url, tests, solution, timeout=5, language="python")
    assert results == [True, True, True], metadata
    results, metadata = verl_sandbox.check_correctness(url, tests, "print(3)", timeout=5, language="python")
    assert results == [True, False, False]
    results, _ = verl_sandbox.check_correctness(url, tests, "while True: pass", timeout=1, language="python")
    assert results == [-3, -3, -3]  # verl's code for a run timeout
    results, _ = verl_sandbox.check_correctness(url, tests, "int main( {", timeout=5, language="cpp")
    assert results == [-4, -4, -4]  # compile error
