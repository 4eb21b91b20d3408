"""Shared pieces of route handlers: the service, size-limited bodies, strict JSON, callers."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import orjson
from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from server.service import Service
from verifiers.validation import first_error

T = TypeVar("T")


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


def _refuse_constant(name: str) -> float:
    raise ValueError(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse_json(body: bytes) -> Any:
    """Strict JSON: NaN, Infinity and numbers too large for a double are refused (422), as is
    anything that is not JSON at all (400)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:  # the lenient reader accepts what JSON does not: tell a non-finite number apart
            json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
        except ValueError as lenient:
            if not isinstance(lenient, json.JSONDecodeError):
                raise HTTPException(422, f"request body holds a non-finite number ({lenient}): "
                                         "NaN and Infinity are not JSON") from None
        raise HTTPException(400, f"request body is not valid UTF-8 JSON: {exc}") from None


def parse_request(body: bytes, adapter: TypeAdapter[T]) -> T:
    """Parse strictly and validate; a validation failure is a 422 naming the first bad field."""
    try:
        return adapter.validate_python(parse_json(body))
    except ValidationError as exc:
        raise HTTPException(422, first_error(exc, "body")) from None


def caller_of(request: Request) -> str:
    """Who is asking, for fair shares: the API key (hashed), else the client address."""
    auth = request.headers.get("authorization", "")
    key = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "").strip()
    if key:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return "addr:" + (request.client.host if request.client else "unknown")


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose JSON body FastAPI parses strictly (`parse_json`): NaN and Infinity are 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict
