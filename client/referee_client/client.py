"""The sync client: `RefereeClient`.

    from referee_client import RefereeClient
    with RefereeClient("http://127.0.0.1:8000") as referee:
        verdicts = referee.verify([{"verifier": "math", "completion": "... \\boxed{4}", "reference": "4"}])

Large lists are split into requests of `batch_size`; 429/5xx answers and connection errors are
retried with backoff (the server's `Retry-After` when it sends one); verdicts come back in input
order. With `micro_batch_ms`, single-rollout calls (`verify_one`, `submit`) from many threads
are gathered into shared requests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any

import httpx

from referee_client.batching import MicroBatcher
from referee_client.wire import (Connection, RefereeError, Verdict, as_item, backoff_s, checked_json, chunks,
                                 error_detail, gave_up, make_item, parse_verdicts, request_body)

DEFAULT_URL = "http://127.0.0.1:8000"
Progress = Callable[[int], None]


def connection(url: str | None, api_key: str | None, timeout: float, batch_size: int, max_retries: int,
               backoff: float) -> Connection:
    """Settings shared by both clients; the URL and key fall back to $REFEREE_URL / $REFEREE_API_KEY."""
    if batch_size < 1 or max_retries < 0:
        raise ValueError("batch_size >= 1 and max_retries >= 0")
    url = (url or os.environ.get("REFEREE_URL") or DEFAULT_URL).rstrip("/")
    return Connection(url, api_key or os.environ.get("REFEREE_API_KEY"), timeout, batch_size, max_retries, backoff)


class RefereeClient:
    def __init__(self, url: str | None = None, *, api_key: str | None = None, timeout: float = 600.0,
                 batch_size: int = 2048, max_retries: int = 6, backoff_s: float = 0.25,
                 micro_batch_ms: float | None = None, micro_batch_max: int = 1024, max_inflight: int = 4) -> None:
        self.connection = connection(url, api_key, timeout, batch_size, max_retries, backoff_s)
        self._http = httpx.Client(base_url=self.connection.url, headers=self.connection.headers, timeout=timeout,
                                  limits=httpx.Limits(max_connections=max(max_inflight, 4) * 2))
        self._batcher = (MicroBatcher(self._post_batch, window_s=micro_batch_ms / 1000, max_items=micro_batch_max,
                                      max_inflight=max_inflight)
                         if micro_batch_ms is not None else None)

    def __enter__(self) -> RefereeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
        self._http.close()

    def verify(self, items: Iterable[Mapping[str, Any]], *, timeout_s: float | None = None,
               on_progress: Progress | None = None) -> list[Verdict]:
        """Score `items` (dicts of the `/v1/verify` item shape); one verdict per item, in order."""
        verdicts: list[Verdict] = []
        for batch in chunks([as_item(i) for i in items], self.connection.batch_size):
            verdicts.extend(self._post_batch(batch, timeout_s))
            if on_progress:
                on_progress(len(batch))
        return verdicts

    def submit(self, item: Mapping[str, Any], *, timeout_s: float | None = None) -> Future[Verdict]:
        """Score one item; with micro-batching it shares a request with its neighbours in time."""
        if self._batcher is not None:
            return self._batcher.submit(as_item(item), timeout_s)
        future: Future[Verdict] = Future()
        try:
            future.set_result(self._post_batch([as_item(item)], timeout_s)[0])
        except Exception as exc:
            future.set_exception(exc)
        return future

    def verify_one(self, verifier: str, completion: Any, reference: Any = None,
                   params: Mapping[str, Any] | None = None, *, id: str | int | None = None,
                   timeout_s: float | None = None) -> Verdict:
        return self.submit(make_item(verifier, completion, reference, params, id=id), timeout_s=timeout_s).result()

    def verifiers(self) -> list[dict[str, Any]]:
        return self._get("/v1/verifiers")["verifiers"]

    def register_verifier(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Register a runtime verifier (needs an admin key). Returns the admission report; a refused
        registration raises RefereeError whose `report` names the failed stage and example."""
        return checked_json(self._http.post("/v1/verifiers", json=dict(spec)))["report"]

    def retire_verifier(self, spec: str, reason: str | None = None) -> dict[str, Any]:
        """Retire `name@version` (needs an admin key)."""
        return checked_json(self._http.delete(f"/v1/verifiers/{spec}", params={"reason": reason} if reason else None))

    def probe(self, verifier: str, **task: Any) -> dict[str, Any]:
        """Run the hack probe on a verifier; `task` may give reference, example, params, prompt."""
        payload = {k: v for k, v in task.items() if v is not None}
        return checked_json(self._http.post(f"/v1/verifiers/{verifier}/probe", json=payload))

    def ready(self) -> bool:
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if time.monotonic() > deadline:
                raise RefereeError(f"server at {self.connection.url} not ready after {timeout_s:g}s")
            time.sleep(0.1)

    def _get(self, path: str) -> Any:
        response = self._http.get(path)
        if response.status_code >= 400:
            raise RefereeError(f"HTTP {response.status_code}: {error_detail(response)}", response.status_code)
        return response.json()

    def _post_batch(self, batch: list[dict[str, Any]], timeout_s: float | None) -> list[Verdict]:
        body = request_body(batch, timeout_s)
        response: httpx.Response | None = None
        tries = self.connection.max_retries + 1
        for attempt in range(tries):
            try:
                response = self._http.post("/v1/verify", content=body)
                verdicts = parse_verdicts(response, len(batch))
                if verdicts is not None:
                    return verdicts
            except httpx.TransportError:
                response = None
            if attempt + 1 < tries:
                time.sleep(backoff_s(attempt, self.connection.backoff_s, response))
        raise gave_up(tries, response)
