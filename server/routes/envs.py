"""`GET /v1/envs` and `POST /v1/envs/{name}/sample`: procedural environments over HTTP.

Sampling returns prompts and instance ids, never references: the id is what a trainer sends
back as `reference` with `verifier: "env:NAME"`, and the server rebuilds the instance from it.
"""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from envs import GenerationBudgetExceeded, UnknownEnvironmentError, all_environments, get_environment
from envs.ids import MAX_SEED
from envs.sampling import SamplerPool
from server.openapi import error_responses
from server.routes.deps import StrictJSONRoute
from verifiers.validation import first_error

router = APIRouter(tags=["envs"], route_class=StrictJSONRoute)

MAX_SAMPLES_PER_REQUEST = 1024


class SampleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, lt=MAX_SEED + 1,  # an exclusive bound of 2**63 is exact as a double
                       description="seed of the first instance; the i-th gets seed + i")
    n: int = Field(1, ge=1, le=MAX_SAMPLES_PER_REQUEST, description="number of instances")
    config: dict[str, Any] = Field(default_factory=dict, description="difficulty knobs (see GET /v1/envs)")


def _sampler(request: Request) -> SamplerPool:
    state = request.app.state
    if getattr(state, "sampler", None) is None:
        state.sampler = SamplerPool()
    return state.sampler


@router.get("/v1/envs")
async def list_envs() -> dict[str, Any]:
    """Every environment: name, version, kind, budget, partial-credit rule and config JSON schema."""
    return {"envs": [env.describe() for env in all_environments()]}


@router.post("/v1/envs/{name}/sample", responses=error_responses(400, 404, 422, 503))
async def sample(name: str, body: SampleRequest, request: Request) -> dict[str, Any]:
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
    config_json = config.model_dump(mode="json")
    try:
        # CPU-bound and not thread-safe (z3): in worker processes, fairly between requests.
        instances = await _sampler(request).sample(env.name, body.seed, body.n, config_json)
    except GenerationBudgetExceeded as exc:
        raise HTTPException(422, str(exc)) from None
    except BrokenProcessPool:  # a generator process died: start fresh ones for the next request
        _sampler(request).close()
        raise HTTPException(503, "an instance generator process died; retry", headers={"retry-after": "1"}) from None
    return {"env": env.name, "version": env.version, "verifier": f"env:{env.name}",
            "config": config_json, "instances": [instance.public() for instance in instances]}
