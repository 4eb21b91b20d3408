"""The OpenAPI document, kept true: bodies a route parses itself are described by their models
(with every model they refer to), and error answers are listed with their shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_REF_TEMPLATE = "#/components/schemas/{model}"
_BODY_SCHEMAS: dict[str, dict[str, Any]] = {}  # model name -> JSON schema, for components

ERROR_SCHEMA = {"type": "object", "properties": {"detail": {}}, "required": ["detail"],
                "description": "`detail` says what was wrong: a sentence, or a list of field errors"}
_ERROR_TEXT = {400: "Bad request (a body that is not JSON, a missing header)", 401: "Missing or invalid API key",
               403: "Not allowed with this key", 404: "Not found", 409: "Conflicts with the current state",
               413: "Body too large", 422: "Invalid request",
               429: "Too many requests: retry after the Retry-After header's seconds",
               502: "on_error=fail: some rows could not be scored (the detail names them)",
               503: "Not ready or overloaded: retry after the Retry-After header's seconds"}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads and validates its JSON body itself."""
    schema = model.model_json_schema(ref_template=_REF_TEMPLATE)
    for name, definition in schema.pop("$defs", {}).items():
        _BODY_SCHEMAS.setdefault(name, definition)
    _BODY_SCHEMAS.setdefault(model.__name__, schema)
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": _REF_TEMPLATE.format(model=model.__name__)}}}}}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route answers (`{"detail": ...}` bodies)."""
    return {code: {"description": _ERROR_TEXT[code], "content": {"application/json": {"schema": ERROR_SCHEMA}}}
            for code in codes}


def _list_common_errors(operation: dict[str, Any]) -> None:
    """The errors any operation with inputs can answer, whatever its handler: 400 and 422 for bad
    input, 404 for an unknown path parameter, 413 for a body over the limit. Every 422 is
    described as `{"detail": ...}`: a handler's own 422 carries a sentence, FastAPI's a list."""
    responses = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    codes: set[int] = set()
    if parameters or "requestBody" in operation:
        codes |= {400, 404, 422}  # 404: a named thing (path, query or body) that does not exist
    if "requestBody" in operation:
        codes.add(413)
    for code, entry in error_responses(*sorted(codes)).items():
        responses.setdefault(str(code), entry)
    if "422" in responses:
        responses["422"] = error_responses(422)[422]


def install(app: FastAPI) -> None:
    """Make `app.openapi()` include the schemas of self-parsed bodies and the common errors."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in _BODY_SCHEMAS.items():
                schemas.setdefault(name, schema)
            for path_item in doc.get("paths", {}).values():
                for operation in path_item.values():
                    _list_common_errors(operation)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
