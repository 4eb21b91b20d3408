"""`POST /v1/compat/slime`: slime's remote reward model (`--rm-type remote_rm --rm-url URL`).

slime posts `{"prompt", "response", "label"}` once per rollout and keeps the JSON answer as the
sample's reward: a number, or a dict it reads with `--reward-key` (`?full=1` answers the dict).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from server.routes.compat_common import (is_unscorable, item_for, query_params_json, refuse_unscorable, score_rows,
                                         trainer_reward)
from server.openapi import error_responses
from server.routes.deps import StrictJSONRoute

router = APIRouter(tags=["compat"], route_class=StrictJSONRoute,
                   responses=error_responses(502))


class SlimeRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # slime may grow fields; they are not needed to score

    prompt: Any = Field(None, description="the prompt (text or chat messages); not scored")
    response: str = Field(description="the generated response, scored as the completion")
    label: Any = Field(None, description="reference, or a JSON object {verifier, reference, params}")


@router.post("/v1/compat/slime")
async def slime_reward(
    body: SlimeRequest,
    request: Request,
    verifier: str | None = Query(None, description="verifier when the label does not name one"),
    params: str | None = Query(None, description="verifier params, a JSON object"),
    full: bool = Query(False, description="answer a dict (read it with slime's --reward-key reward)"),
    on_error: Literal["zero", "fail"] = Query("zero", description="unscorable: reward 0, or 502"),
    timeout_s: float | None = Query(None, gt=0),
) -> float | dict[str, Any]:
    """The reward of one rollout: a float, or with `full=1` `{reward, status, message, components, ...}`."""
    row = item_for(body.response, body.label, verifier, query_params_json(params))
    verdict = (await score_rows(request, [row], timeout_s))[0]
    if on_error == "fail":
        refuse_unscorable([verdict])
    reward = trainer_reward(verdict)
    if not full:
        return reward
    # components at the top level too, so `--reward-key` can pick one; the fixed keys win a clash
    return {**verdict.components, "reward": reward, "status": verdict.status.value,
            "unscorable": is_unscorable(verdict), "message": verdict.message, "verifier": verdict.verifier,
            "components": verdict.components}
