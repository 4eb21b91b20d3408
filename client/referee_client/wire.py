"""What crosses the wire: items out, verdicts back, and when a failed request is worth retrying.

Plain dicts and a small dataclass: no pydantic, so the package has httpx as its only dependency.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

# Statuses that are not a real reward: a trainer masks them instead of learning from a 0.
MASKED_STATUSES = frozenset({"timeout", "error", "invalid_input"})
# Answers that a later try can fix: overload (429) and server or gateway trouble (5xx).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0


class RefereeError(RuntimeError):
    """The server refused a request (a 4xx other than 429), answered nonsense, or retries ran out."""

    def __init__(self, message: str, status_code: int | None = None, report: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.report = report  # a refused registration's admission report (failed stage and example)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one item (the server's `Verdict`, as plain data)."""

    reward: float = 0.0
    status: str = "ok"
    id: str | int | None = None
    message: str | None = None
    components: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    verifier: str | None = None
    elapsed_ms: float = 0.0
    cached: bool = False

    @property
    def scorable(self) -> bool:
        """False for timeout / error / invalid_input: no real reward to learn from."""
        return self.status not in MASKED_STATUSES

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        return cls(
            reward=float(data.get("reward", 0.0)),
            status=str(data.get("status", "ok")),
            id=data.get("id"),
            message=data.get("message"),
            components=dict(data.get("components") or {}),
            details=dict(data.get("details") or {}),
            verifier=data.get("verifier"),
            elapsed_ms=float(data.get("elapsed_ms", 0.0)),
            cached=bool(data.get("cached", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_item(verifier: str, completion: Any, reference: Any = None, params: Mapping[str, Any] | None = None,
              *, id: str | int | None = None, group: str | int | None = None) -> dict[str, Any]:
    """One item of `POST /v1/verify`."""
    item: dict[str, Any] = {"verifier": verifier, "completion": completion, "reference": reference,
                            "params": dict(params or {})}
    if id is not None:
        item["id"] = id
    if group is not None:
        item["group"] = group
    return item


def as_item(item: Any) -> dict[str, Any]:
    """A mapping, or any object with `model_dump` (the server's pydantic `Item`), as a JSON-ready dict."""
    if isinstance(item, Mapping):
        return dict(item)
    dump = getattr(item, "model_dump", None)
    if dump is not None:
        return dump(mode="json", exclude_none=True)
    raise TypeError(f"an item is a mapping, not {type(item).__name__}")


def request_body(items: list[dict[str, Any]], timeout_s: float | None) -> bytes:
    payload: dict[str, Any] = {"items": items}
    if timeout_s is not None:
        payload["timeout_s"] = timeout_s
    return json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()


def json_or_text(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or `{"detail": <text>}` when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text}
    return body if isinstance(body, dict) else {"detail": body}


def error_detail(response: httpx.Response) -> str:
    body = json_or_text(response)
    return str(body.get("detail", body))


def checked_json(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; a 4xx/5xx raises RefereeError (with the report, if the server sent one)."""
    body = json_or_text(response)
    if response.status_code >= 400:
        raise RefereeError(f"HTTP {response.status_code}: {body.get('detail', body)}", response.status_code,
                           body.get("report"))
    return body


def parse_verdicts(response: httpx.Response, expected: int) -> list[Verdict] | None:
    """The verdicts of an answer; None means "retry". Raises for answers that retrying cannot fix."""
    if response.status_code in RETRY_STATUSES:
        return None
    if response.status_code >= 400:
        raise RefereeError(f"HTTP {response.status_code}: {error_detail(response)}", response.status_code)
    try:
        raw = response.json()["verdicts"]
    except (ValueError, KeyError, TypeError):
        raise RefereeError(f"not a verify answer: {response.text[:200]!r}", response.status_code) from None
    if not isinstance(raw, list) or len(raw) != expected:
        got = len(raw) if isinstance(raw, list) else type(raw).__name__
        raise RefereeError(f"server answered {got} verdicts for {expected} items")
    return [Verdict.from_json(v) for v in raw]


def retry_after_s(response: httpx.Response | None) -> float | None:
    """The server's `Retry-After`, in seconds (a number or an HTTP date), capped; None if absent."""
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def backoff_s(attempt: int, base: float, response: httpx.Response | None) -> float:
    """How long to wait before try `attempt + 1`: Retry-After if given, else jittered exponential."""
    told = retry_after_s(response)
    if told is not None:
        return told
    return min(base * 2**attempt, 30.0) * (0.5 + random.random() / 2)


def gave_up(attempts: int, response: httpx.Response | None) -> RefereeError:
    last = f" (last answer HTTP {response.status_code})" if response is not None else " (no connection)"
    return RefereeError(f"gave up after {attempts} attempts{last}",
                        response.status_code if response is not None else None)


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the service is and how hard to try."""

    url: str
    api_key: str | None
    timeout: float
    batch_size: int
    max_retries: int
    backoff_s: float

    @property
    def headers(self) -> dict[str, str]:
        auth = {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return {"content-type": "application/json"} | auth


def chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
