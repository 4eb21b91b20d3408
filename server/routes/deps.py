"""Shared pieces of route handlers: the service, size-limited bodies, limit errors."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import HTTPException, Request

from server.service import Service


def service_of(request: Request) -> Service:
    return request.app.state.service


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing bodies over `max_bytes` before reading them whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"request body of {declared} bytes is over the limit max_body_bytes={max_bytes}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(413, f"request body is over the limit max_body_bytes={max_bytes}")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"request body is not valid UTF-8 JSON: {exc}") from None

