"""`finalize`: the one gate every verdict passes, from every path, before anyone else sees it.

In-process `verifiers.verify`, the pool workers, async verifiers on the event loop and remote
workers all hand what a verifier returned to `finalize`. It guarantees what the rest of the system
relies on: a real `Verdict`, a finite reward and components, a known status, JSON-safe details,
and the stamp (the `name@version` that ran, the time it took) set exactly here.
A verifier that returns garbage gives its item `error` with the reason; it never fails a batch.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from pydantic import BaseModel

from verifiers.contract import Status, Verdict

MAX_DETAILS_DEPTH = 32
NOTE_KEY = "details_note"  # where a conversion of unserialisable details is explained
_REPR_CHARS = 200


def finalize(result: object, spec: str | None, elapsed_ms: float) -> Verdict:
    """Check and stamp what a verifier returned; garbage becomes an `error` verdict."""
    problem = _problem(result)
    if problem is not None:
        verdict = Verdict.failed(Status.error, f"{spec} returned an unusable verdict: {problem}")
    else:
        verdict = result  # type: ignore[assignment]
        details = verdict.details
        if details:
            verdict.details = json_safe_details(details)
    verdict.verifier = spec
    verdict.elapsed_ms = round(elapsed_ms, 3)
    return verdict


def _problem(result: object) -> str | None:
    """Why `result` cannot be sent as it is, or None (normalising what can be: int rewards …)."""
    if not isinstance(result, Verdict):
        return f"expected a Verdict, got {_type_name(result)}"
    reward = result.reward
    if isinstance(reward, bool) or not isinstance(reward, (int, float)):
        return f"reward must be a number, got {_type_name(reward)}"
    if not math.isfinite(reward):
        return f"reward is not finite ({reward})"
    result.reward = float(reward)
    if not isinstance(result.status, Status):
        try:
            result.status = Status(result.status)
        except ValueError:
            return f"unknown status {result.status!r}"
    if result.message is not None and not isinstance(result.message, str):
        result.message = str(result.message)[:1000]
    components = result.components
    if not isinstance(components, dict):
        return f"components must be a dict, got {_type_name(components)}"
    for name, value in components.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"component {name!r} is not a finite number ({value!r})"[:300]
    if not isinstance(result.details, dict):
        result.details = {"value": result.details, NOTE_KEY: "details were not a dict; wrapped"}
    return None


def json_safe_details(details: dict[str, Any]) -> dict[str, Any]:
    """`details` itself when orjson can write it (the common case, one fast dump), else a copy
    where what JSON cannot hold is converted (tuples, sets, models, big ints) or replaced by its
    repr, with a note saying what happened."""
    try:
        orjson.dumps(details)
        return details
    except (TypeError, orjson.JSONEncodeError):
        pass
    notes: list[str] = []
    safe = _convert(details, "details", 0, notes)
    if not isinstance(safe, dict):
        safe = {"value": safe}
    safe[NOTE_KEY] = "; ".join(notes[:10]) or "details were converted to JSON"
    return safe


def _convert(value: Any, path: str, depth: int, notes: list[str]) -> Any:
    if depth > MAX_DETAILS_DEPTH:
        notes.append(f"{path}: nested deeper than {MAX_DETAILS_DEPTH} levels, dropped")
        return None
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        if -(2**63) <= value < 2**64:
            return value
        notes.append(f"{path}: integer too large for JSON, written as a string")
        return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = k if isinstance(k, str) else str(k)
            out[key] = _convert(v, f"{path}.{key}", depth + 1, notes)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_convert(v, f"{path}[{i}]", depth + 1, notes) for i, v in enumerate(value)]
    if isinstance(value, BaseModel):
        try:
            return _convert(value.model_dump(mode="json"), path, depth + 1, notes)
        except Exception:  # a model with unserialisable fields: fall through to repr
            pass
    if isinstance(value, (bytes, bytearray)):
        return bytes(value[:100_000]).decode("utf-8", "replace")
    try:
        text = repr(value)
    except Exception:
        text = f"<{_type_name(value)}>"
    notes.append(f"{path}: {_type_name(value)} is not JSON, replaced by its repr")
    return text[:_REPR_CHARS]


def _type_name(value: object) -> str:
    return "None" if value is None else type(value).__name__
