"""The registry as the API shows it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from server.routes.deps import StrictJSONRoute, service_of

router = APIRouter(tags=["verifiers"], route_class=StrictJSONRoute)


@router.get("/v1/verifiers")
async def list_verifiers(request: Request) -> dict[str, Any]:
    """Every verifier: name, version, description, and the JSON schema of its params."""
    return {"verifiers": service_of(request).registry.describe()}
