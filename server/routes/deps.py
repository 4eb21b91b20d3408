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

from verifiers.runtime.pacing import Pacer
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


class NonFiniteNumber(ValueError):
    """NaN, Infinity, or a number too large for a double (1e400): not JSON, whatever Python reads."""


def _refuse_constant(name: str) -> float:
    raise NonFiniteNumber(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber(text)
    return value


def _non_finite(exc: NonFiniteNumber) -> HTTPException:
    return HTTPException(422, f"request body holds a non-finite number ({exc}): NaN and Infinity are not JSON")


def parse_json(body: bytes) -> Any:
    """Strict JSON: NaN, Infinity and numbers too large for a double are refused (422), as is
    anything that is not JSON at all (400)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:  # the lenient reader accepts what JSON does not: tell a non-finite number apart
            json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
        except NonFiniteNumber as lenient:
            raise _non_finite(lenient) from None
        except ValueError:
            pass
        raise HTTPException(400, f"request body is not valid UTF-8 JSON: {exc}") from None


async def parse_json_paced(body: bytes) -> Any:
    """`parse_json` for large bodies: a top-level object is read member by member, and the
    elements of a top-level array member one by one, yielding to the event loop between slices
    (one orjson call on a 64 MB body would hold the loop for a long time)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"request body is not valid UTF-8 JSON: {exc}") from None
    try:
        return await _read_object(text)
    except NonFiniteNumber as exc:
        raise _non_finite(exc) from None
    except ValueError as exc:  # json.JSONDecodeError and our own shape errors
        raise HTTPException(400, f"request body is not valid UTF-8 JSON: {exc}") from None


_decoder = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)  # as parse_json


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\n\r":
        pos += 1
    return pos


def _expect(text: str, pos: int, char: str) -> int:
    pos = _skip(text, pos)
    if pos >= len(text) or text[pos] != char:
        raise ValueError(f"expected {char!r} at char {pos}")
    return pos + 1


async def _read_object(text: str) -> Any:
    pos = _skip(text, 0)
    if pos >= len(text) or text[pos] != "{":
        value, end = _decoder.raw_decode(text, pos)  # not an object: small or not ours; one call
        if _skip(text, end) != len(text):
            raise ValueError(f"extra data at char {end}")
        return value
    pacer = Pacer()
    out: dict[str, Any] = {}
    pos = _skip(text, pos + 1)
    if pos < len(text) and text[pos] == "}":
        return out
    while True:
        key, pos = _decoder.raw_decode(text, _skip(text, pos))
        if not isinstance(key, str):
            raise ValueError(f"object key expected at char {pos}")
        pos = _skip(text, _expect(text, pos, ":"))
        if pos < len(text) and text[pos] == "[":
            out[key], pos = await _read_array(text, pos + 1, pacer)
        else:
            out[key], pos = _decoder.raw_decode(text, pos)
        pos = _skip(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        pos = _expect(text, pos, "}")
        if _skip(text, pos) != len(text):
            raise ValueError(f"extra data at char {pos}")
        return out


async def _read_array(text: str, pos: int, pacer: Pacer) -> tuple[list[Any], int]:
    values: list[Any] = []
    pos = _skip(text, pos)
    if pos < len(text) and text[pos] == "]":
        return values, pos + 1
    while True:
        value, pos = _decoder.raw_decode(text, _skip(text, pos))
        values.append(value)
        await pacer.tick()
        pos = _skip(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        return values, _expect(text, pos, "]")


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
