"""The GRM service end to end on a real (tiny, trained here) model: HTTP -> batcher -> generate -> score."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
import pytest
from grm_helpers import sample_task

from server.grm.app import create_grm_app
from server.grm.model import GRMModel, ModelLoadError
from server.grm.settings import GRMSettings


def item(good: bool, seed: int = 0, **extra) -> dict:
    task = sample_task(random.Random(seed), good)
    return {"prompt": task.prompt, "response": task.response, **extra}


def settings(**kw) -> GRMSettings:
    kw.setdefault("max_wait_ms", 5.0)
    return GRMSettings(**kw)


async def post_all(app, bodies: list[dict], headers: dict | None = None) -> list[httpx.Response]:
    """Send the bodies concurrently, the way many trainer workers would."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://grm", timeout=120) as client:
        return list(await asyncio.gather(*(client.post("/v1/grm/score", json=b, headers=headers) for b in bodies)))


def post(app, body: dict, headers: dict | None = None) -> httpx.Response:
    return asyncio.run(post_all(app, [body], headers))[0]


def test_scores_are_read_from_the_critique(tiny_grader):
    app = create_grm_app(settings(), model=tiny_grader)
    r = post(app, {"items": [item(True, 1), item(False, 2)], "max_new_tokens": 12})
    assert r.status_code == 200, r.text
    good, bad = r.json()["results"]
    assert good["critique"] == "Correct.\nScore: 9/10" and good["score"] == 9 and good["score_source"] == "text"
    assert good["reward"] == pytest.approx(8 / 9)
    assert bad["score"] == 2 and bad["reward"] == pytest.approx(1 / 9)
    assert good["prompt_tokens"] > 0 and 0 < good["completion_tokens"] <= 12
    assert "score_probs" not in good


def test_concurrent_requests_share_one_generation_batch(tiny_grader):
    # The batch closes when full, long before the 30 s wait: four concurrent one-item requests
    # must come back from one `generate` call, each with its own verdict despite the padding.
    app = create_grm_app(settings(max_batch=4, max_wait_ms=30_000), model=tiny_grader)
    goods = [True, False, False, True]
    bodies = [{"items": [item(g, seed)], "max_new_tokens": 12} for seed, g in enumerate(goods)]
    responses = asyncio.run(post_all(app, bodies))
    results = [r.json()["results"][0] for r in responses]
    assert {(r["batch_id"], r["batch_size"]) for r in results} == {(results[0]["batch_id"], 4)}
    assert [r["score"] for r in results] == [9 if g else 2 for g in goods]


def test_a_lone_request_waits_at_most_max_wait_and_large_ones_are_split(tiny_grader):
    app = create_grm_app(settings(max_batch=4, max_wait_ms=10), model=tiny_grader)
    lone = post(app, {"items": [item(True)], "max_new_tokens": 4}).json()["results"][0]
    assert lone["batch_size"] == 1
    many = post(app, {"items": [item(i % 2 == 0, i) for i in range(6)], "max_new_tokens": 12}).json()["results"]
    assert [r["batch_size"] for r in many] == [4, 4, 4, 4, 2, 2]
    assert len({r["batch_id"] for r in many}) == 2
    assert [r["score"] for r in many] == [9, 2, 9, 2, 9, 2]


def test_no_written_score_falls_back_to_the_expected_value(tiny_grader):
    # Two tokens are too few to write "Score: …"; the fallback cues "Score:" after the critique
    # and averages the scale under the model's probabilities, which for this model sit on 9 / 2.
    app = create_grm_app(settings(), model=tiny_grader)
    r = post(app, {"items": [item(True, 3), item(False, 4)], "max_new_tokens": 2})
    good, bad = r.json()["results"]
    for res in (good, bad):
        assert res["score_source"] == "expected_value" and "Score" not in res["critique"]
        probs = res["score_probs"]
        assert list(probs) == [str(v) for v in range(1, 11)]
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
        assert res["score"] == pytest.approx(sum(int(k) * p for k, p in probs.items()), abs=1e-3)
        assert res["reward"] == pytest.approx((res["score"] - 1) / 9)
    assert good["score"] > 8 and bad["score"] < 3


def test_a_score_on_another_scale_is_not_trusted(tiny_grader):
    # The model writes "9/10" whatever it is asked; on a 1..5 scale that is no score, so the
    # fallback gives one that lies on the requested scale.
    app = create_grm_app(settings(), model=tiny_grader)
    res = post(app, {"items": [item(True)], "scale": {"min": 1, "max": 5}, "max_new_tokens": 12}).json()["results"][0]
    assert res["critique"].endswith("Score: 9/10")
    assert res["score_source"] == "expected_value" and 1 <= res["score"] <= 5
    assert list(res["score_probs"]) == ["1", "2", "3", "4", "5"]


def test_sampled_critiques_are_averaged(tiny_grader):
    app = create_grm_app(settings(max_batch=8), model=tiny_grader)
    r = post(app, {"items": [item(True, 11), item(False, 12)], "samples": 4, "temperature": 0.7,
                   "max_new_tokens": 12})
    assert r.status_code == 200, r.text
    good, bad = r.json()["results"]
    for res in (good, bad):
        assert len(res["samples"]) == 4 and res["batch_size"] == 2
        assert res["score"] == pytest.approx(sum(s["score"] for s in res["samples"]) / 4)
        assert res["completion_tokens"] == sum(s["completion_tokens"] for s in res["samples"])
        assert res["critique"] == res["samples"][0]["critique"]
        assert all(1 <= s["score"] <= 10 for s in res["samples"])
    assert good["score"] > 5 > bad["score"]  # each item's samples stay with that item


def test_samples_count_against_the_batch_size(tiny_grader):
    # max_batch counts generated sequences: 4 samples fill a batch of 4 on their own.
    app = create_grm_app(settings(max_batch=4, max_wait_ms=200), model=tiny_grader)
    sampled = {"items": [item(True, 13)], "samples": 4, "max_new_tokens": 12}
    single = {"items": [item(False, 14)], "max_new_tokens": 12}
    pair = {"items": [item(True, 15), item(False, 16)], "samples": 2, "max_new_tokens": 12}
    a, b = (r.json()["results"] for r in asyncio.run(post_all(app, [sampled, single])))
    assert a[0]["batch_id"] != b[0]["batch_id"] and a[0]["batch_size"] == 1
    (p1, p2) = post(app, pair).json()["results"]
    assert p1["batch_id"] == p2["batch_id"] and p1["batch_size"] == 2


def test_untrained_model_still_gets_a_score_on_the_scale(untrained_model_dir):
    model = GRMModel.load(untrained_model_dir)
    app = create_grm_app(settings(), model=model)
    res = post(app, {"items": [item(True, reference="x", principles=["Be brief"])], "max_new_tokens": 8}).json()
    (r,) = res["results"]
    assert r["score_source"] == "expected_value" and 1 <= r["score"] <= 10 and 0 <= r["reward"] <= 1


def test_generation_stops_when_told(untrained_model_dir, tiny_grader):
    # The batcher's stop check (service closing, or every waiting client gone) ends a batch at
    # its next token instead of after max_new_tokens.
    from server.grm.prompting import render
    from server.grm.scorer import GRMScorer, Limits, ScoreJob

    model = GRMModel.load(untrained_model_dir)
    prompt = model.encode_prompt(render(sample_task(random.Random(0), True), model.tokenizer))
    assert all(len(c) <= 1 for c in model.generate([prompt, prompt[:20]], 64, should_stop=lambda: True))
    scorer = GRMScorer(tiny_grader, Limits(max_input_chars=10_000, max_input_tokens=1000))
    outcomes = scorer.score_batch([ScoreJob(sample_task(random.Random(1), True), 12)], should_stop=lambda: True)
    assert outcomes[0].score is None and outcomes[0].error_kind == "stopped"  # abandoned work is not scored


def test_too_long_items_fail_alone(tiny_grader):
    app = create_grm_app(settings(max_input_chars=2000, max_input_tokens=400), model=tiny_grader)
    huge = {"prompt": "p", "response": "x" * 3000}
    long_tokens = {"prompt": "apple " * 300, "response": "right"}
    r = post(app, {"items": [huge, item(True), long_tokens], "max_new_tokens": 12})
    assert r.status_code == 200
    chars, fine, tokens = r.json()["results"]
    assert chars["error_kind"] == "too_long" and "max_input_chars=2000" in chars["error"] and "score" not in chars
    assert tokens["error_kind"] == "too_long" and "max_input_tokens=400" in tokens["error"]
    assert fine["score"] == 9


@pytest.mark.parametrize("body, status, words", [
    ({"items": []}, 422, "at least 1"),
    ({"items": [{"prompt": "p"}]}, 422, "response"),
    ({"items": [{"prompt": "p", "response": "r", "extra": 1}]}, 422, "extra"),
    ({"items": [{"prompt": "p", "response": "r"}], "scale": {"min": 5, "max": 5}}, 422, "above min"),
    ({"items": [{"prompt": "p", "response": "r"}], "max_new_tokens": 65}, 422, "over the server's limit 64"),
    ({"items": [{"prompt": "p", "response": "r"}] * 5}, 413, "max_items_per_request=4"),
    ({"items": [{"prompt": "p", "response": "r"}], "samples": 17}, 422, "over the server's limit 16"),
    ({"items": [{"prompt": "p", "response": "r"}], "samples": 2, "temperature": 0}, 422, "temperature > 0"),
    ({"items": [{"prompt": "p", "response": "r"}], "temperature": 3}, 422, "less than or equal to 2"),
])
def test_bad_requests_are_refused_with_the_reason(tiny_grader, body, status, words):
    app = create_grm_app(settings(max_new_tokens=64, default_new_tokens=16, max_items_per_request=4),
                         model=tiny_grader)
    r = post(app, body)
    assert r.status_code == status and words in r.text


def test_an_oversized_body_is_refused_before_reading(tiny_grader):
    app = create_grm_app(settings(max_body_bytes=4096), model=tiny_grader)
    r = post(app, {"items": [{"prompt": "p", "response": "x" * 5000}]})
    assert r.status_code == 413 and "max_body_bytes=4096" in r.text


def test_a_full_queue_answers_503(tiny_grader):
    app = create_grm_app(settings(max_queue=2), model=tiny_grader)
    r = post(app, {"items": [item(True)] * 3})
    assert r.status_code == 503 and "at most 2" in r.json()["detail"] and r.headers["retry-after"] == "1"


def test_api_keys_guard_scoring_but_not_health(tiny_grader):
    app = create_grm_app(settings(api_keys="k1,k2"), model=tiny_grader)
    body = {"items": [item(True)], "max_new_tokens": 12}
    assert post(app, body).status_code == 401
    assert post(app, body, {"authorization": "Bearer nope"}).status_code == 401
    assert post(app, body, {"authorization": "Bearer k2"}).json()["results"][0]["score"] == 9

    async def health():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://grm") as c:
            assert (await c.get("/readyz")).status_code == 200
            return (await c.get("/healthz")).json()

    h = asyncio.run(health())
    assert h["status"] == "ok" and (h["device"], h["dtype"]) == ("cpu", "float32")
    assert h["batches_run"] >= 1


def test_loading_errors_name_the_problem(tmp_path: Path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        GRMModel.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="could not load model directory"):
        GRMModel.load(tmp_path / "empty")
    (tmp_path / "bad.gguf").write_bytes(b"not a gguf file")
    with pytest.raises(ModelLoadError, match="could not load GGUF file"):
        GRMModel.load(tmp_path / "bad.gguf")
    with pytest.raises(ValueError, match="no model given"):
        create_grm_app(GRMSettings(model=""))
