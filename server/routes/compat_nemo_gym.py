"""`/v1/compat/nemo-gym/{verifier}/…`: a NeMo Gym resources server (NeMo RL, and verifiers v1 /
prime-rl through their NeMo Gym task set).

NeMo Gym's agent posts the dataset row to `/seed_session`, runs the model, then posts the row
plus `response` (an OpenAI Responses-API object) to `/verify` and reads the row back with
`reward` (and `reward_components`) added. `/aggregate_metrics` summarises verify answers.

The scored text is what NeMo Gym's own resources servers read: the `output_text` parts of the
response's `message` items (reasoning and tool calls are not the answer). The reference is the
row's `expected_answer`, or the field named by `?reference_key=`.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean
from typing import Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from verifiers.contract import Item, Status, Verdict
from server.routes.compat_common import UNSCORABLE, item_for, query_params_json, score_rows, trainer_reward
from server.routes.deps import StrictJSONRoute

router = APIRouter(prefix="/v1/compat/nemo-gym/{verifier}", tags=["compat"], route_class=StrictJSONRoute)

TASK_INDEX_KEY = "_ng_task_index"  # NeMo Gym's key for the dataset row a rollout came from


def response_text(response: Any) -> str | None:
    """The answer text of a Responses-API object; None if it is not one."""
    if not isinstance(response, dict) or not isinstance(response.get("output"), list):
        return None
    parts = []
    for output in response["output"]:
        if isinstance(output, dict) and output.get("type") == "message" and isinstance(output.get("content"), list):
            parts += [part["text"] for part in output["content"]
                      if isinstance(part, dict) and part.get("type") == "output_text" and isinstance(part.get("text"), str)]
    return "".join(parts)


@router.post("/seed_session")
async def seed_session(verifier: str, body: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """Nothing to set up: references stay in the rows (or on the server, for environments)."""
    return {}


@router.post("/verify")
async def verify(
    verifier: str,
    request: Request,
    body: dict[str, Any] = Body(..., description="the dataset row plus `response`, a Responses-API object"),
    reference_key: str = Query("expected_answer", description="the row field holding the reference"),
    params: str | None = Query(None, description="verifier params, a JSON object"),
    timeout_s: float | None = Query(None, gt=0),
) -> dict[str, Any]:
    """The row with `reward`, `reward_components` and `referee_status` added (unscorable: reward 0)."""
    text = response_text(body.get("response"))
    row: Item | Verdict = (Verdict.failed(Status.invalid_input, "response is not a Responses-API object with `output`")
                           if text is None else
                           item_for(text, body.get(reference_key), verifier, query_params_json(params)))
    verdict = (await score_rows(request, [row], timeout_s))[0]
    return body | {"reward": trainer_reward(verdict), "reward_components": verdict.components,
                   "referee_status": verdict.status.value, "referee_message": verdict.message}


class AggregateMetricsRequest(BaseModel):
    verify_responses: list[dict[str, Any]] = Field(default_factory=list)


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """mean/max/min of the reward and of each reward component, plus the unscorable share."""
    series: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if isinstance(row.get("reward"), (int, float)):
            series["reward"].append(float(row["reward"]))
        for name, value in (row.get("reward_components") or {}).items():
            if isinstance(value, (int, float)):
                series[name].append(float(value))
    summary: dict[str, Any] = {"count": len(rows)}
    for name, values in series.items():
        summary |= {f"mean/{name}": fmean(values), f"max/{name}": max(values), f"min/{name}": min(values)}
    unscorable = [row.get("referee_status") in {s.value for s in UNSCORABLE} for row in rows]
    summary["mean/referee_unscorable"] = fmean(unscorable) if unscorable else 0.0
    return summary


@router.post("/aggregate_metrics")
async def aggregate_metrics(verifier: str, body: AggregateMetricsRequest) -> dict[str, Any]:
    """NeMo Gym's AggregateMetrics: per-task and overall summaries, headline = the mean/* entries."""
    by_task: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in body.verify_responses:
        by_task[row.get(TASK_INDEX_KEY, 0)].append(row)
    groups = [{TASK_INDEX_KEY: task} | _summary(rows) for task, rows in sorted(by_task.items(), key=lambda kv: str(kv[0]))]
    overall = _summary(body.verify_responses) if body.verify_responses else {}
    return {"group_level_metrics": groups, "agent_metrics": overall,
            "key_metrics": {k: v for k, v in overall.items() if k.startswith("mean/")}}
