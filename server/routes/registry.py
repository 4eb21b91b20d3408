"""The registry as the API shows it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from server.routes.deps import StrictJSONRoute, service_of

router = APIRouter(tags=["verifiers"], route_class=StrictJSONRoute)


@router.get("/v1/verifiers")
async def list_verifiers(request: Request) -> dict[str, Any]:
    """Every verifier: name, version, description, the JSON schema of its params; runtime-registered
    ones also carry `runtime` (kind, source hash, admission report). `retired` lists retired ones."""
    service = service_of(request)
    retired = [r for r in service.custom.describe() if r["retired"]]
    return {"verifiers": service.registry.describe(), "retired": retired}
