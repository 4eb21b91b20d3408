"""`referee grm serve` / `python -m server.grm` as a real process."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import httpx
from grm_helpers import free_port, sample_task

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}


def test_serve_loads_the_model_and_answers(tiny_grader_dir):
    port = free_port()
    cmd = [sys.executable, "-m", "server.grm", "serve", "--model", str(tiny_grader_dir), "--device", "auto",
           "--port", str(port), "--max-batch", "4", "--max-wait-ms", "5", "--threads", "1",
           "--default-new-tokens", "12", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                health = httpx.get(base + "/healthz", timeout=2).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        assert health["device"] == "cpu" and health["dtype"] == "float32" and health["max_batch"] == 4
        t = sample_task(random.Random(0), False)
        r = httpx.post(base + "/v1/grm/score", json={"items": [{"prompt": t.prompt, "response": t.response}]},
                       timeout=60)
        assert r.status_code == 200 and r.json()["results"][0]["score"] == 2
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_refuses_a_missing_model_with_the_reason(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "server.grm", "serve", "--model", str(tmp_path / "nope"), "--port", str(free_port())],
        env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "does not exist" in result.stderr


def test_serve_refuses_a_public_address_without_keys(tiny_grader_dir):
    result = subprocess.run(
        [sys.executable, "-m", "server.grm", "serve", "--model", str(tiny_grader_dir), "--host", "0.0.0.0"],
        env={**ENV, "REFEREE_GRM_API_KEYS": ""}, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "without API keys" in result.stderr


def test_referee_cli_lists_grm():
    result = subprocess.run([sys.executable, "-m", "server.cli", "grm", "--help"], env=ENV,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "serve" in result.stdout and "convert" in result.stdout
