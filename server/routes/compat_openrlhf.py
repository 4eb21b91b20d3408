"""`POST /v1/compat/openrlhf`: OpenRLHF's remote reward protocol (`--reward.remote_url URL`).

OpenRLHF posts `{"query": [...], "prompts": [...], "labels": [...]}`, where each query is the
prompt followed by the response, decoded with special tokens kept; current releases send one
rollout per request, older ones the whole batch. It reads `{"rewards", "scores", "extra_logs"}`.

Only the response is scored: the query minus its prompt and trailing end-of-turn tokens, so a
prompt that quotes the answer earns nothing. A query that does not contain its prompt is
`invalid_input`. The URL carries no commas: OpenRLHF splits its flag on them (the end tokens are
repeated `end_token=` parameters for that reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from verifiers.contract import Item, Status, Verdict
from server.routes.compat_common import (UNSCORABLE, is_unscorable, item_for, query_params_json, refuse_unscorable,
                                         score_rows, trainer_reward)
from server.openapi import error_responses
from server.routes.deps import StrictJSONRoute

router = APIRouter(tags=["compat"], route_class=StrictJSONRoute,
                   responses=error_responses(502))

# End-of-turn / end-of-text markers of common chat templates, stripped from the end of a response.
DEFAULT_END_TOKENS = (
    "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>", "<|end|>", "<end_of_turn>",
    "<eos>", "<|return|>", "<｜end▁of▁sentence｜>", "<|end▁of▁sentence|>", "[EOS]",
)


class OpenRLHFRequest(BaseModel):
    query: list[str] = Field(description="prompt + response per rollout, special tokens kept")
    prompts: list[str] = Field(description="the prompt of each rollout")
    labels: list[Any] | None = Field(None, description="reference, or a JSON object {verifier, reference, params}")


class OpenRLHFResponse(BaseModel):
    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


def response_of(query: str, prompt: str, end_tokens: Sequence[str]) -> str | None:
    """The response inside `query`: what follows the prompt, minus trailing end tokens; None if the
    prompt is not there (scoring the whole query could reward a prompt that quotes the answer)."""
    at = query.find(prompt) if prompt else 0
    if at < 0:
        return None
    response = query[at + len(prompt):]
    while True:
        stripped = response.rstrip()
        for token in end_tokens:
            if token and stripped.endswith(token):
                stripped = stripped[:-len(token)]
        if stripped == response:
            return response
        response = stripped


def _row(query: str, prompt: str, label: Any, verifier: str | None, params: dict[str, Any],
         end_tokens: Sequence[str]) -> Item | Verdict:
    response = response_of(query, prompt, end_tokens)
    if response is None:
        return Verdict.failed(Status.invalid_input, "the query does not contain its prompt: cannot tell the "
                                                    "response apart")
    return item_for(response, label, verifier, params)


@router.post("/v1/compat/openrlhf", response_model=OpenRLHFResponse)
async def openrlhf_reward(
    body: OpenRLHFRequest,
    request: Request,
    verifier: str | None = Query(None, description="verifier for rows whose label does not name one"),
    params: str | None = Query(None, description="verifier params, a JSON object"),
    on_error: Literal["zero", "fail"] = Query("zero", description="unscorable rows: reward 0 and counted, or 502"),
    end_token: list[str] | None = Query(None, description="end-of-turn tokens to strip (repeat the parameter); "
                                                          "default: the common chat templates' tokens"),
    timeout_s: float | None = Query(None, gt=0, description="per-row deadline in seconds"),
) -> OpenRLHFResponse:
    """Score each rollout's response. Unscorable rows get 0, and `extra_logs` counts them per status."""
    rows_count = len(body.query)
    if len(body.prompts) != rows_count or (body.labels is not None and len(body.labels) != rows_count):
        raise HTTPException(422, "query, prompts and labels must have the same length")
    fixed = query_params_json(params)
    labels = body.labels if body.labels is not None else [None] * rows_count
    tokens = tuple(end_token) if end_token else DEFAULT_END_TOKENS
    rows = [_row(q, p, label, verifier, fixed, tokens) for q, p, label in zip(body.query, body.prompts, labels)]
    verdicts = await score_rows(request, rows, timeout_s)
    if on_error == "fail":
        refuse_unscorable(verdicts)
    rewards = [trainer_reward(v) for v in verdicts]
    # one 0/1 column per status, on every answer: OpenRLHF stacks extra_logs per key across requests
    extra_logs = {f"referee_{status.value}": [float(v.status is status) for v in verdicts] for status in UNSCORABLE}
    extra_logs["referee_unscorable"] = [float(is_unscorable(v)) for v in verdicts]
    return OpenRLHFResponse(rewards=rewards, scores=rewards, extra_logs=extra_logs)
