"""`POST /v1/verify`: score a batch of items, answering one verdict per item in order."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from verifiers.contract import Item, Status, Verdict
from verifiers.runtime import Overloaded, Unavailable, finalize
from verifiers.runtime.groups import GroupStats, group_stats
from verifiers.runtime.pacing import Pacer
from verifiers.validation import first_error
from server.openapi import error_responses, json_body
from server.routes.deps import StrictJSONRoute, parse_json, parse_json_paced, read_body, service_of

router = APIRouter(tags=["verify"], route_class=StrictJSONRoute)


class VerifyRequest(BaseModel):
    items: list[Item]
    timeout_s: float | None = Field(None, gt=0, description="per-item deadline in seconds (server default if absent)")


class VerifyResponse(BaseModel):
    verdicts: list[Verdict]
    groups: dict[str, GroupStats] = Field(
        default_factory=dict, description="statistics per `group` key of the items (absent keys: no groups)")


# Bodies up to this size are validated in one pass (fastest); larger ones
# item by item in slices, handing the event loop back between slices.
ONE_PASS_MAX_BYTES = 512 * 1024
RESPONSE_SLICE = 1024
METRICS_SLICE = 2048

_item_adapter = TypeAdapter(Item)
_request_adapter = TypeAdapter(VerifyRequest)
_verdicts_adapter = TypeAdapter(list[Verdict])
_groups_adapter = TypeAdapter(dict[str, GroupStats])


def _placeholder_item(raw: Any) -> Item:
    """Stands in for an item that failed validation, so the batch keeps its order."""
    item_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), (str, int)) else None
    return Item(id=item_id, verifier="", completion="")


def _describe(exc: ValidationError) -> str:
    return f"invalid item: {first_error(exc)}"


async def _parse_item_by_item(body: Any, max_items: int) -> tuple[list[Item], dict[int, Verdict], float | None]:
    """Large requests, and requests with bad items: each bad item gets its own verdict."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise HTTPException(422, 'body must be a JSON object {"items": [...], "timeout_s": optional number}')
    _check_count(len(body["items"]), max_items)
    timeout_s = body.get("timeout_s")
    if timeout_s is not None and (isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float))
                                  or timeout_s <= 0):
        raise HTTPException(422, "timeout_s must be a positive number of seconds")
    items: list[Item] = []
    rejected: dict[int, Verdict] = {}
    pacer = Pacer()
    for index, raw in enumerate(body["items"]):
        try:
            items.append(_item_adapter.validate_python(raw))
        except ValidationError as exc:
            placeholder = _placeholder_item(raw)
            rejected[index] = finalize(Verdict.failed(Status.invalid_input, _describe(exc)), None, 0.0)
            rejected[index].id = placeholder.id
            items.append(placeholder)
        await pacer.tick()
    return items, rejected, timeout_s


def _check_count(count: int, max_items: int) -> None:
    if count > max_items:
        raise HTTPException(413, f"{count} items is over the limit max_items_per_request={max_items}; split the batch")


async def _dump(verdicts: list[Verdict], groups: dict[str, GroupStats]) -> bytes:
    """The response JSON, written in slices so a large one never holds the event loop long."""
    pacer = Pacer()
    parts: list[bytes] = []
    for start in range(0, len(verdicts), RESPONSE_SLICE):
        parts.append(_verdicts_adapter.dump_json(verdicts[start:start + RESPONSE_SLICE])[1:-1])
        await pacer.tick()
    tail = b'],"groups":' + _groups_adapter.dump_json(groups) + b"}" if groups else b"]}"
    return b'{"verdicts":[' + b",".join(p for p in parts if p) + tail


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
        reason = service.executor.readiness().get("reason") or "no verifier workers are ready yet"
        raise HTTPException(503, reason, headers={"retry-after": "1"})
    body = await read_body(request, settings.max_body_bytes)
    max_items = settings.max_items_per_request
    parsed: VerifyRequest | None = None
    if len(body) <= ONE_PASS_MAX_BYTES:  # the common case: one validation pass
        data = parse_json(body)  # strict: NaN and Infinity are a 422 (orjson + validate_python is also fast)
        try:
            parsed = _request_adapter.validate_python(data)
        except ValidationError:
            pass
    else:
        data = await parse_json_paced(body)  # as strict, without holding the event loop
    if parsed is not None:
        items, rejected, timeout_s = parsed.items, {}, parsed.timeout_s
        _check_count(len(items), max_items)
    else:
        items, rejected, timeout_s = await _parse_item_by_item(data, max_items)
    if timeout_s is not None and timeout_s > settings.max_timeout_s:
        raise HTTPException(422, f"timeout_s={timeout_s} is over the limit max_timeout_s={settings.max_timeout_s}")
    valid = [(i, item) for i, item in enumerate(items) if i not in rejected]
    try:
        scored = await service.scorer.score([item for _, item in valid], timeout_s)
    except Overloaded as exc:
        raise HTTPException(429, str(exc), headers={"retry-after": exc.retry_after_header}) from None
    except Unavailable as exc:
        raise HTTPException(503, str(exc), headers={"retry-after": exc.retry_after_header}) from None
    verdicts: list[Verdict] = [rejected.get(i) for i in range(len(items))]  # type: ignore[misc]
    for (index, _), verdict in zip(valid, scored):
        verdicts[index] = verdict
    for start in range(0, len(verdicts), METRICS_SLICE):
        if start:
            await asyncio.sleep(0)
        service.metrics.observe(verdicts[start:start + METRICS_SLICE])
    groups = group_stats(items, verdicts)
    return Response(await _dump(verdicts, groups), media_type="application/json")
