"""Runtime verifiers: register (admin), retire (admin), and probe any verifier for reward hacks."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from verifiers.custom.catalog import RegistrationError
from verifiers.probe import ProbeRequest, judge, probe_items
from verifiers.registry import UnknownVerifierError
from server.openapi import error_responses
from server.routes.deps import StrictJSONRoute, parse_json, read_body, service_of

router = APIRouter(tags=["verifiers"], route_class=StrictJSONRoute)
MAX_SPEC_BYTES = 4 << 20


@router.post("/v1/verifiers", status_code=201, responses=error_responses(400, 401, 403, 409, 413, 422),
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "object", "description": "a preset, composite or Python verifier spec"}}}}})
async def register_verifier(request: Request) -> JSONResponse:
    """Register a preset, composite or Python verifier; it goes live only if admission passes.

    Admin key required. 201 with the admission report when admitted; 422 with the report naming
    the failed stage and example when refused; 409 when `name@version` is taken or retired.
    """
    service = service_of(request)
    raw = parse_json(await read_body(request, MAX_SPEC_BYTES))
    try:
        report = await asyncio.to_thread(service.custom.register, raw)
    except RegistrationError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    body = report.model_dump(mode="json")
    if not report.admitted:
        return JSONResponse({"detail": report.message, "report": body}, status_code=422)
    return JSONResponse({"verifier": report.spec, "report": body}, status_code=201)


@router.delete("/v1/verifiers/{spec}")
async def retire_verifier(request: Request, spec: str, reason: str | None = None) -> dict[str, Any]:
    """Retire `name@version` (admin key required); items naming it afterwards get `invalid_input`."""
    try:
        record = await asyncio.to_thread(service_of(request).custom.retire, spec, reason)
    except (RegistrationError, UnknownVerifierError) as exc:
        raise HTTPException(getattr(exc, "status", 422), str(exc)) from None
    return {"retired": spec, "reason": record["retired"]["reason"]}


@router.post("/v1/verifiers/{spec}/probe")
async def probe_verifier(request: Request, spec: str) -> dict[str, Any]:
    """Try the corpus of known reward hacks on a verifier; report which ones earned reward.

    Body (optional): `{reference, example, params, prompt}`; without it, built-ins use a default
    task and runtime verifiers their first accept example.
    """
    service = service_of(request)
    body = await request.body()
    try:
        probe_request = ProbeRequest.model_validate(parse_json(body)) if body.strip() else None
    except ValidationError as exc:
        raise HTTPException(422, f"invalid probe request: {exc.errors()[0]['msg']}") from None
    try:
        verifier = service.registry.resolve(spec)
        planned = probe_items(verifier, service.registry, probe_request)
    except UnknownVerifierError as exc:
        raise HTTPException(404, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    verdicts = [await service.scorer.score(items) for _, _, items in planned]
    return judge(verifier.spec, planned, verdicts)
