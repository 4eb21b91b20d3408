"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from server.routes.deps import StrictJSONRoute, service_of

router = APIRouter(tags=["operations"], route_class=StrictJSONRoute)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


_READY = {"application/json": {"schema": {"type": "object", "properties": {"ready": {"type": "boolean"}},
                                          "required": ["ready"]}}}


@router.get("/readyz", responses={200: {"description": "Ready", "content": _READY},
                                  503: {"description": "Not ready yet", "content": _READY}})
async def readyz(request: Request) -> Response:
    body = service_of(request).executor.readiness()
    return JSONResponse(body, status_code=200 if body["ready"] else 503)


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"description": "Prometheus text format",
                             "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(request: Request) -> Response:
    return Response(service_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
