"""The async client: `AsyncRefereeClient`, the twin of `RefereeClient`.

Batches of one `verify` call are sent `max_concurrency` at a time. With `micro_batch_ms`,
`verify_one` calls from many tasks are gathered into shared requests by a `RefereeClient`
running the micro-batcher, so the same gathering serves every event loop of the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from referee_client.client import Progress, RefereeClient, connection
from referee_client.wire import (RefereeError, Verdict, as_item, backoff_s, chunks, error_detail, gave_up, make_item,
                                 parse_verdicts, request_body)


class AsyncRefereeClient:
    def __init__(self, url: str | None = None, *, api_key: str | None = None, timeout: float = 600.0,
                 batch_size: int = 2048, max_retries: int = 6, backoff_s: float = 0.25, max_concurrency: int = 4,
                 micro_batch_ms: float | None = None, micro_batch_max: int = 1024, max_inflight: int = 4) -> None:
        self.connection = connection(url, api_key, timeout, batch_size, max_retries, backoff_s)
        self._http = httpx.AsyncClient(base_url=self.connection.url, headers=self.connection.headers,
                                       timeout=timeout, limits=httpx.Limits(max_connections=max_concurrency * 2))
        self._slots = asyncio.Semaphore(max_concurrency)
        self._batched = (RefereeClient(self.connection.url, api_key=self.connection.api_key, timeout=timeout,
                                       max_retries=max_retries, backoff_s=backoff_s, micro_batch_ms=micro_batch_ms,
                                       micro_batch_max=micro_batch_max, max_inflight=max_inflight)
                         if micro_batch_ms is not None else None)

    async def __aenter__(self) -> AsyncRefereeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._batched is not None:
            await asyncio.to_thread(self._batched.close)
        await self._http.aclose()

    async def verify(self, items: Iterable[Mapping[str, Any]], *, timeout_s: float | None = None,
                     on_progress: Progress | None = None) -> list[Verdict]:
        async def one(batch: list[dict[str, Any]]) -> list[Verdict]:
            async with self._slots:
                verdicts = await self._post_batch(batch, timeout_s)
            if on_progress:
                on_progress(len(batch))
            return verdicts

        batches = chunks([as_item(i) for i in items], self.connection.batch_size)
        results = await asyncio.gather(*(one(b) for b in batches))
        return [v for batch in results for v in batch]

    async def score(self, item: Mapping[str, Any], *, timeout_s: float | None = None) -> Verdict:
        """Score one item; with micro-batching it shares a request with its neighbours in time."""
        if self._batched is not None:
            return await asyncio.wrap_future(self._batched.submit(item, timeout_s=timeout_s))
        async with self._slots:
            return (await self._post_batch([as_item(item)], timeout_s))[0]

    async def verify_one(self, verifier: str, completion: Any, reference: Any = None,
                         params: Mapping[str, Any] | None = None, *, id: str | int | None = None,
                         timeout_s: float | None = None) -> Verdict:
        return await self.score(make_item(verifier, completion, reference, params, id=id), timeout_s=timeout_s)

    async def verifiers(self) -> list[dict[str, Any]]:
        response = await self._http.get("/v1/verifiers")
        if response.status_code >= 400:
            raise RefereeError(f"HTTP {response.status_code}: {error_detail(response)}", response.status_code)
        return response.json()["verifiers"]

    async def _post_batch(self, batch: list[dict[str, Any]], timeout_s: float | None) -> list[Verdict]:
        body = request_body(batch, timeout_s)
        response: httpx.Response | None = None
        tries = self.connection.max_retries + 1
        for attempt in range(tries):
            try:
                response = await self._http.post("/v1/verify", content=body)
                verdicts = parse_verdicts(response, len(batch))
                if verdicts is not None:
                    return verdicts
            except httpx.TransportError:
                response = None
            if attempt + 1 < tries:
                await asyncio.sleep(backoff_s(attempt, self.connection.backoff_s, response))
        raise gave_up(tries, response)
