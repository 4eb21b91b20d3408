"""`GET /v1/envs` and `POST /v1/envs/{name}/sample`: procedural environments over HTTP.

Sampling returns prompts and instance ids, never references: the id is what a trainer sends
back as `reference` with `verifier: "env:NAME"`, and the server rebuilds the instance from it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from envs import GenerationBudgetExceeded, UnknownEnvironmentError, all_environments, get_environment
from envs.ids import MAX_SEED
from envs.registry import generation_lock
from verifiers.validation import first_error

router = APIRouter(tags=["envs"])

MAX_SAMPLES_PER_REQUEST = 1024



class SampleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of the first instance; the i-th gets seed + i")
    n: int = Field(1, ge=1, le=MAX_SAMPLES_PER_REQUEST, description="number of instances")
    config: dict[str, Any] = Field(default_factory=dict, description="difficulty knobs (see GET /v1/envs)")


def _sample_serially(env: Any, seed: int, n: int, config: Any) -> list[Any]:
    with generation_lock:  # scoring needs no z3 and runs in the worker processes
        return env.sample_many(seed, n, config)


@router.get("/v1/envs")
async def list_envs() -> dict[str, Any]:
    """Every environment: name, version, kind, budget, partial-credit rule and config JSON schema."""
    return {"envs": [env.describe() for env in all_environments()]}


@router.post("/v1/envs/{name}/sample")
async def sample(name: str, body: SampleRequest) -> dict[str, Any]:
    """`n` instances from seeds `seed .. seed+n-1`: prompts and ids, no references."""
    try:
        env = get_environment(name)
    except UnknownEnvironmentError as exc:
        raise HTTPException(404, str(exc)) from None
    try:
        config = env.parse_config(body.config)
    except ValidationError as exc:
        raise HTTPException(422, f"bad config for {env.spec}: {first_error(exc, 'config')}") from None
    if body.seed + body.n - 1 > MAX_SEED:
        raise HTTPException(422, f"seeds run past {MAX_SEED}")
    try:
        # CPU-bound (z3 releases the GIL while it solves): keep it off the event loop.
        instances = await run_in_threadpool(_sample_serially, env, body.seed, body.n, config)
    except GenerationBudgetExceeded as exc:
        raise HTTPException(422, str(exc)) from None
    return {"env": env.name, "version": env.version, "verifier": f"env:{env.name}",
            "config": config.model_dump(mode="json"), "instances": [inst.public() for inst in instances]}
