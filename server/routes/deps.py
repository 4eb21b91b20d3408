"""Shared pieces of route handlers: the service, size-limited bodies, limit errors."""

from __future__ import annotations

from typing import Any

import json

import orjson
from fastapi import HTTPException, Request

from verifiers.runtime.pacing import Pacer

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
    except ValueError as exc:  # json.JSONDecodeError and our own shape errors
        raise HTTPException(400, f"request body is not valid UTF-8 JSON: {exc}") from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_decoder = json.JSONDecoder(parse_constant=_no_constants)  # NaN/Infinity are not JSON


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


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"request body is not valid UTF-8 JSON: {exc}") from None

