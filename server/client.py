"""Python clients for the Referee HTTP API (sync and async).

    from server.client import RefereeClient
    with RefereeClient("http://127.0.0.1:8000") as referee:
        verdicts = referee.verify([{"verifier": "math", "completion": "... \\boxed{4}", "reference": "4"}])

Large lists are split into requests of `batch_size`; 429/502/503/504 answers and connection
errors are retried with exponential backoff; verdicts come back in input order.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx
import orjson
from pydantic import TypeAdapter

from verifiers.contract import Item, Verdict

RETRY_STATUSES = frozenset({429, 502, 503, 504})
_verdicts_adapter = TypeAdapter(list[Verdict])
ItemLike = Item | Mapping[str, Any]
Progress = Callable[[int], None]


class RefereeError(RuntimeError):
    """The server refused a request (a 4xx other than 429), or retries ran out."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def _as_dict(item: ItemLike) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude_none=True) if isinstance(item, Item) else dict(item)


def _batches(items: Sequence[dict[str, Any]], size: int) -> list[Sequence[dict[str, Any]]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _body(batch: Sequence[dict[str, Any]], timeout_s: float | None) -> bytes:
    payload: dict[str, Any] = {"items": list(batch)}
    if timeout_s is not None:
        payload["timeout_s"] = timeout_s
    return orjson.dumps(payload)


def _verdicts(response: httpx.Response, expected: int) -> list[Verdict] | None:
    """Verdicts from a response; None means: retry. Raises for answers that retrying cannot fix."""
    if response.status_code in RETRY_STATUSES:
        return None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise RefereeError(f"HTTP {response.status_code}: {detail}", response.status_code)
    verdicts = _verdicts_adapter.validate_python(orjson.loads(response.content)["verdicts"])
    if len(verdicts) != expected:
        raise RefereeError(f"server answered {len(verdicts)} verdicts for {expected} items")
    return verdicts


def _backoff(attempt: int, base: float, response: httpx.Response | None) -> float:
    retry_after = response.headers.get("retry-after") if response is not None else None
    if retry_after and retry_after.replace(".", "", 1).isdigit():
        return min(float(retry_after), 60.0)
    return min(base * 2**attempt, 30.0) * (0.5 + random.random() / 2)


def _gave_up(attempts: int, response: httpx.Response | None) -> RefereeError:
    last = f" (last answer HTTP {response.status_code})" if response is not None else " (no connection)"
    return RefereeError(f"gave up after {attempts} attempts{last}")


def _json_or_text(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text}
    return body if isinstance(body, dict) else {"detail": body}


class _Config:
    def __init__(self, url: str, api_key: str | None, timeout: float, batch_size: int, max_retries: int,
                 backoff_s: float) -> None:
        self.url = url.rstrip("/")
        key = api_key or os.environ.get("REFEREE_API_KEY")
        self.headers = {"content-type": "application/json"} | ({"authorization": f"Bearer {key}"} if key else {})
        self.timeout = timeout
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.backoff_s = backoff_s


class RefereeClient:
    def __init__(self, url: str = "http://127.0.0.1:8000", *, api_key: str | None = None, timeout: float = 600.0,
                 batch_size: int = 2048, max_retries: int = 6, backoff_s: float = 0.25) -> None:
        self.config = _Config(url, api_key, timeout, batch_size, max_retries, backoff_s)
        self._http = httpx.Client(base_url=self.config.url, headers=self.config.headers, timeout=timeout)

    def __enter__(self) -> RefereeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def verify(self, items: Iterable[ItemLike], *, timeout_s: float | None = None,
               on_progress: Progress | None = None) -> list[Verdict]:
        dicts = [_as_dict(i) for i in items]
        verdicts: list[Verdict] = []
        for batch in _batches(dicts, self.config.batch_size):
            verdicts.extend(self._post_batch(batch, timeout_s))
            if on_progress:
                on_progress(len(batch))
        return verdicts

    def verify_one(self, verifier: str, completion: Any, reference: Any = None,
                   params: dict[str, Any] | None = None, **kw: Any) -> Verdict:
        item = {"verifier": verifier, "completion": completion, "reference": reference, "params": params or {}}
        return self.verify([item], **kw)[0]

    def verifiers(self) -> list[dict[str, Any]]:
        return self._get("/v1/verifiers")["verifiers"]

    def register_verifier(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Register a runtime verifier (needs an admin key). Returns the admission report; a refused
        registration raises RefereeError whose `report` names the failed stage and example."""
        response = self._http.post("/v1/verifiers", content=orjson.dumps(dict(spec)))
        body = _json_or_text(response)
        if response.status_code >= 400:
            error = RefereeError(f"HTTP {response.status_code}: {body.get('detail', body)}", response.status_code)
            error.report = body.get("report")  # type: ignore[attr-defined]
            raise error
        return body["report"]

    def retire_verifier(self, spec: str, reason: str | None = None) -> dict[str, Any]:
        """Retire `name@version` (needs an admin key)."""
        response = self._http.delete(f"/v1/verifiers/{spec}", params={"reason": reason} if reason else None)
        body = _json_or_text(response)
        if response.status_code >= 400:
            raise RefereeError(f"HTTP {response.status_code}: {body.get('detail', body)}", response.status_code)
        return body

    def probe(self, verifier: str, **task: Any) -> dict[str, Any]:
        """Run the hack probe on a verifier; `task` may give reference, example, params, prompt."""
        payload = {k: v for k, v in task.items() if v is not None}
        response = self._http.post(f"/v1/verifiers/{verifier}/probe", content=orjson.dumps(payload))
        body = _json_or_text(response)
        if response.status_code >= 400:
            raise RefereeError(f"HTTP {response.status_code}: {body.get('detail', body)}", response.status_code)
        return body

    def ready(self) -> bool:
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if time.monotonic() > deadline:
                raise RefereeError(f"server at {self.config.url} not ready after {timeout_s:g}s")
            time.sleep(0.1)

    def _get(self, path: str) -> Any:
        response = self._http.get(path)
        if response.status_code >= 400:
            raise RefereeError(f"HTTP {response.status_code}: {response.text}", response.status_code)
        return response.json()

    def _post_batch(self, batch: Sequence[dict[str, Any]], timeout_s: float | None) -> list[Verdict]:
        body = _body(batch, timeout_s)
        response: httpx.Response | None = None
        for attempt in range(self.config.max_retries + 1):
            try:
                response = self._http.post("/v1/verify", content=body)
                verdicts = _verdicts(response, len(batch))
                if verdicts is not None:
                    return verdicts
            except httpx.TransportError:
                response = None
            if attempt < self.config.max_retries:
                time.sleep(_backoff(attempt, self.config.backoff_s, response))
        raise _gave_up(self.config.max_retries + 1, response)


class AsyncRefereeClient:
    """The async twin of `RefereeClient`; batches of one call are sent `max_concurrency` at a time."""

    def __init__(self, url: str = "http://127.0.0.1:8000", *, api_key: str | None = None, timeout: float = 600.0,
                 batch_size: int = 2048, max_retries: int = 6, backoff_s: float = 0.25,
                 max_concurrency: int = 4) -> None:
        self.config = _Config(url, api_key, timeout, batch_size, max_retries, backoff_s)
        self._http = httpx.AsyncClient(base_url=self.config.url, headers=self.config.headers, timeout=timeout,
                                       limits=httpx.Limits(max_connections=max_concurrency * 2))
        self._slots = asyncio.Semaphore(max_concurrency)

    async def __aenter__(self) -> AsyncRefereeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def verify(self, items: Iterable[ItemLike], *, timeout_s: float | None = None,
                     on_progress: Progress | None = None) -> list[Verdict]:
        dicts = [_as_dict(i) for i in items]

        async def one(batch: Sequence[dict[str, Any]]) -> list[Verdict]:
            async with self._slots:
                verdicts = await self._post_batch(batch, timeout_s)
            if on_progress:
                on_progress(len(batch))
            return verdicts

        results = await asyncio.gather(*(one(b) for b in _batches(dicts, self.config.batch_size)))
        return [v for batch in results for v in batch]

    async def verify_one(self, verifier: str, completion: Any, reference: Any = None,
                         params: dict[str, Any] | None = None, **kw: Any) -> Verdict:
        item = {"verifier": verifier, "completion": completion, "reference": reference, "params": params or {}}
        return (await self.verify([item], **kw))[0]

    async def verifiers(self) -> list[dict[str, Any]]:
        response = await self._http.get("/v1/verifiers")
        if response.status_code >= 400:
            raise RefereeError(f"HTTP {response.status_code}: {response.text}", response.status_code)
        return response.json()["verifiers"]

    async def _post_batch(self, batch: Sequence[dict[str, Any]], timeout_s: float | None) -> list[Verdict]:
        body = _body(batch, timeout_s)
        response: httpx.Response | None = None
        for attempt in range(self.config.max_retries + 1):
            try:
                response = await self._http.post("/v1/verify", content=body)
                verdicts = _verdicts(response, len(batch))
                if verdicts is not None:
                    return verdicts
            except httpx.TransportError:
                response = None
            if attempt < self.config.max_retries:
                await asyncio.sleep(_backoff(attempt, self.config.backoff_s, response))
        raise _gave_up(self.config.max_retries + 1, response)
