"""HTTP routes of the GRM service."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException, Request

from server.grm.batcher import Batcher, QueueFullError
from server.grm.parsing import Scale
from server.grm.prompting import GradingTask
from server.grm.schemas import ScoreRequest, ScoreResponse, ScoreResult
from server.grm.scorer import ScoreJob, ScoreOutcome
from server.grm.settings import GRMSettings

router = APIRouter()  # behind the API key when one is set
health_router = APIRouter()  # open, for load balancers and probes


def _jobs(body: ScoreRequest, settings: GRMSettings) -> list[ScoreJob]:
    if len(body.items) > settings.max_items_per_request:
        raise HTTPException(413, f"request has {len(body.items)} items, over the limit "
                                 f"max_items_per_request={settings.max_items_per_request}")
    new_tokens = body.max_new_tokens or settings.default_new_tokens
    if new_tokens > settings.max_new_tokens:
        raise HTTPException(422, f"max_new_tokens={new_tokens} is over the server's limit {settings.max_new_tokens}")
    if body.samples > settings.max_samples:
        raise HTTPException(422, f"samples={body.samples} is over the server's limit {settings.max_samples}")
    temperature = body.temperature if body.temperature is not None else (0.0 if body.samples == 1 else 0.7)
    if body.samples > 1 and temperature == 0:
        raise HTTPException(422, "several samples need temperature > 0 (greedy decoding repeats itself)")
    scale = Scale(body.scale.min, body.scale.max)
    return [
        ScoreJob(GradingTask(prompt=i.prompt, response=i.response, reference=i.reference,
                             principles=tuple(i.principles or ()), scale=scale),
                 max_new_tokens=new_tokens, samples=body.samples, temperature=temperature)
        for i in body.items
    ]


@router.post("/v1/grm/score", response_model=ScoreResponse, response_model_exclude_none=True)
async def score(body: ScoreRequest, request: Request) -> ScoreResponse:
    """Critique and score each item; items of concurrent requests share generation batches."""
    state = request.app.state
    jobs = _jobs(body, state.settings)
    batcher: Batcher[ScoreJob, ScoreOutcome] = state.batcher
    try:
        done = await batcher.submit(jobs)
    except QueueFullError as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from None
    except Exception as exc:
        raise HTTPException(500, f"generation failed: {type(exc).__name__}: {exc}") from None
    results = [ScoreResult(**asdict(outcome), batch_id=info.id, batch_size=info.size) for outcome, info in done]
    return ScoreResponse(model=state.model_name, results=results)


@health_router.get("/readyz")  # the model is loaded before the port opens: up means ready
@health_router.get("/healthz")
async def healthz(request: Request) -> dict[str, object]:
    state = request.app.state
    settings: GRMSettings = state.settings
    return {
        "status": "ok",
        "model": state.model_name,
        "device": state.placement.device,
        "dtype": state.placement.dtype,
        "max_batch": settings.max_batch,
        "max_new_tokens": settings.max_new_tokens,
        "max_input_tokens": settings.max_input_tokens,
        "waiting": state.batcher.waiting,
        "batches_run": state.batcher.batches_run,
        "items_run": state.batcher.items_run,
    }
