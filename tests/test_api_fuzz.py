"""The API under fuzzing and load: schemathesis drives every operation from the service's own
OpenAPI document (no 5xx, no answer outside the document), a burst of 2,000 connections gets no
errors, and hostile text cannot stall the verifiers' scanners."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from tests.conftest import running_server

CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


def assert_no_server_error(case, response) -> None:
    """No 5xx, except one the operation documents as its deliberate answer (the compat routes'
    `on_error=fail` is a 502, so the trainer's retry path runs); a 500 is always a crash."""
    documented = set(case.operation.definition.raw.get("responses", {}))
    code = response.status_code
    assert code < 500 or (code != 500 and str(code) in documented), f"{code} from {case.method} {case.path}: {response.text[:300]}"


@pytest.fixture(scope="module")
def fuzz_server():
    with running_server("--workers", "2", "--timeout", "5", env={"REFEREE_SANDBOX_SLOTS": "2"}) as url:
        yield url


def bound_cost(case) -> None:
    """Keep each generated request cheap (the fuzzing is about shapes, not about long runs)."""
    body = case.body if isinstance(case.body, dict) else None
    if body is None:
        return
    if isinstance(body.get("limits"), dict):
        for key in ("wall_time_s", "cpu_time_s"):
            if isinstance(body["limits"].get(key), (int, float)) and not isinstance(body["limits"][key], bool):
                body["limits"][key] = min(body["limits"][key], 2)
    if isinstance(body.get("n"), int) and not isinstance(body["n"], bool):
        body["n"] = min(body["n"], 3)
    if isinstance(body.get("timeout_s"), (int, float)) and not isinstance(body["timeout_s"], bool):
        body["timeout_s"] = min(body["timeout_s"], 2)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms_to_the_document(fuzz_server, mode):
    api = schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 9
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None, phases=[Phase.explicit, Phase.generate])
        def conforms(case) -> None:
            bound_cost(case)
            response = case.call_and_validate(base_url=fuzz_server, checks=CHECKS, timeout=60)
            assert_no_server_error(case, response)

        try:
            conforms()
        except Unsatisfiable:  # negative mode: the operation has no input that can be made invalid
            assert mode is GenerationMode.NEGATIVE
        except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed; failures reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_document_refers_only_to_schemas_it_holds(fuzz_server):
    doc = httpx.get(f"{fuzz_server}/openapi.json").json()
    refs = set(re.findall(r'"\$ref": ?"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs and refs <= set(doc["components"]["schemas"])
    run = doc["components"]["schemas"]["SandboxRunRequest"]["properties"]
    assert "" not in run["language"]["enum"]
    sample = doc["components"]["schemas"]["SampleRequest"]["properties"]["seed"]
    assert sample.get("exclusiveMaximum") == 2**63 and "maximum" not in sample
    assert {"400", "413", "422"} <= set(doc["paths"]["/v1/verify"]["post"]["responses"])
    assert "404" in doc["paths"]["/v1/envs/{name}/sample"]["post"]["responses"]


async def one_request(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()  # Connection: close: the server ends the answer
        return int(status_line.split()[1])
    finally:
        writer.close()


async def burst(port: int, n: int) -> list[int | str]:
    verify = json.dumps({"items": [{"verifier": "exact", "completion": "a", "reference": "a"}]}).encode()
    requests = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(verify)).encode() + b"\r\n\r\n" + verify,
    ]

    async def guarded(i: int) -> int | str:
        try:
            return await one_request(port, requests[i % 2])
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"

    return await asyncio.wait_for(asyncio.gather(*(guarded(i) for i in range(n))), timeout=240)


def test_a_burst_of_2000_connections_gets_no_errors(fuzz_server):
    port = int(fuzz_server.rsplit(":", 1)[1])
    statuses = asyncio.run(burst(port, 2000))
    failures = [s for s in statuses if s != 200]
    assert not failures, f"{len(failures)} failures, e.g. {failures[:5]}"
    assert httpx.get(f"{fuzz_server}/healthz").status_code == 200


def test_hostile_text_does_not_stall_the_scanners(fuzz_server):
    hostile = [
        {"id": "boxed", "verifier": "numeric", "completion": "\\boxed{" * 15_000, "reference": "1"},
        {"id": "boxed-then-answer", "verifier": "numeric", "completion": "\\boxed{" * 15_000 + " answer: 7",
         "reference": "7"},
        {"id": "spaces", "verifier": "numeric", "completion": "1" + " " * 100_000 + "x", "reference": "1"},
        {"id": "think", "verifier": "exact", "completion": "</think" * 20_000 + "</think>a", "reference": "a"},
        {"id": "tags", "verifier": "format", "completion": "<answer>" * 20_000, "reference": None,
         "params": {"tags": ["answer"]}},
        {"id": "plain", "verifier": "exact", "completion": "yes", "reference": "yes"},
    ]
    response = httpx.post(f"{fuzz_server}/v1/verify", json={"items": hostile, "timeout_s": 5}, timeout=60)
    verdicts = {v["id"]: v for v in response.json()["verdicts"]}
    assert all(v["status"] != "timeout" for v in verdicts.values()), verdicts
    assert verdicts["boxed"]["status"] == "wrong_format"
    assert verdicts["boxed-then-answer"]["reward"] == 1.0
    assert verdicts["plain"]["reward"] == 1.0 and verdicts["think"]["reward"] == 1.0
