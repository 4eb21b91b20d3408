"""`POST /v1/verify`: score a batch of items, answering one verdict per item in order."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from verifiers.contract import Item, Status, Verdict
from verifiers.runtime import Overloaded
from verifiers.validation import first_error
from server.openapi import error_responses, json_body
from server.routes.deps import StrictJSONRoute, parse_json, read_body, service_of

router = APIRouter(tags=["verify"], route_class=StrictJSONRoute)


class VerifyRequest(BaseModel):
    items: list[Item]
    timeout_s: float | None = Field(None, gt=0, description="per-item deadline in seconds (server default if absent)")


class VerifyResponse(BaseModel):
    verdicts: list[Verdict]


_item_adapter = TypeAdapter(Item)
_request_adapter = TypeAdapter(VerifyRequest)
_response_adapter = TypeAdapter(VerifyResponse)


def _placeholder_item(raw: Any) -> Item:
    """Stands in for an item that failed validation, so the batch keeps its order."""
    item_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), (str, int)) else None
    return Item(id=item_id, verifier="", completion="")


def _describe(exc: ValidationError) -> str:
    return f"invalid item: {first_error(exc)}"


def _parse_item_by_item(body: Any) -> tuple[list[Item], dict[int, Verdict], float | None]:
    """The slow path, for requests with some bad items: each bad one gets its own verdict."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise HTTPException(422, 'body must be a JSON object {"items": [...], "timeout_s": optional number}')
    timeout_s = body.get("timeout_s")
    if timeout_s is not None and (isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float))
                                  or timeout_s <= 0):
        raise HTTPException(422, "timeout_s must be a positive number of seconds")
    items: list[Item] = []
    rejected: dict[int, Verdict] = {}
    for index, raw in enumerate(body["items"]):
        try:
            items.append(_item_adapter.validate_python(raw))
        except ValidationError as exc:
            placeholder = _placeholder_item(raw)
            rejected[index] = Verdict.failed(Status.invalid_input, _describe(exc), id=placeholder.id)
            items.append(placeholder)
    return items, rejected, timeout_s


@router.post(
    "/v1/verify",
    response_model=VerifyResponse,
    openapi_extra=json_body(VerifyRequest),
    responses=error_responses(400, 413, 422, 429, 503),
)
async def verify(request: Request) -> Response:
    """Score `items`; a bad item gets a verdict with status `invalid_input`, the rest are scored."""
    service = service_of(request)
    settings = service.settings
    if not service.executor.ready():
        raise HTTPException(503, "no verifier workers are ready yet", headers={"retry-after": "1"})
    body = await read_body(request, settings.max_body_bytes)
    data = parse_json(body)  # strict: NaN and Infinity are a 422 (and orjson + validate_python is the faster pair)
    try:  # the common case: a valid request
        parsed = _request_adapter.validate_python(data)
        items, rejected, timeout_s = parsed.items, {}, parsed.timeout_s
    except ValidationError:
        items, rejected, timeout_s = _parse_item_by_item(data)
    if len(items) > settings.max_items_per_request:
        raise HTTPException(413, f"{len(items)} items is over the limit "
                                 f"max_items_per_request={settings.max_items_per_request}; split the batch")
    if timeout_s is not None and timeout_s > settings.max_timeout_s:
        raise HTTPException(422, f"timeout_s={timeout_s} is over the limit max_timeout_s={settings.max_timeout_s}")
    valid = [(i, item) for i, item in enumerate(items) if i not in rejected]
    try:
        scored = await service.scorer.score([item for _, item in valid], timeout_s)
    except Overloaded as exc:
        raise HTTPException(429, str(exc), headers={"retry-after": exc.retry_after_header}) from None
    verdicts: list[Verdict] = [rejected.get(i) for i in range(len(items))]  # type: ignore[misc]
    for (index, _), verdict in zip(valid, scored):
        verdicts[index] = verdict
    service.metrics.observe(verdicts)
    return Response(_response_adapter.dump_json(VerifyResponse.model_construct(verdicts=verdicts)),
                    media_type="application/json")
