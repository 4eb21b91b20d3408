"""`grm`: a generative reward model grades the completion (critique + score), served by `referee grm serve`.

The reference is the prompt the completion answers, as a string, or an object
`{"prompt": ..., "reference": ..., "principles": [...]}`. The server is chosen by name: `default`
is `$REFEREE_GRM_URL`; more are named in `$REFEREE_GRM_SERVERS` as JSON, e.g.
`{"big": "http://gpu1:8100", "small": {"url": "http://gpu2:8100", "api_key": "..."}}`.
Requests carry no URLs, so an item cannot point the service at an arbitrary host.
"""

from __future__ import annotations

import asyncio
import json
import os
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from verifiers.base import Context, Verifier
from verifiers.contract import Status, Verdict
from verifiers.retry import RetryPolicy, parse_retry_after
from verifiers.text import after_reasoning

URL_ENV_VAR = "REFEREE_GRM_URL"
SERVERS_ENV_VAR = "REFEREE_GRM_SERVERS"
SCORE_PATH = "/v1/grm/score"
RETRY_STATUSES = frozenset({502, 503, 504})  # the GRM server is restarting or overloaded
RETRY_POLICY = RetryPolicy(max_retries=3, backoff_initial_s=0.2, backoff_max_s=1.0)


class GRMParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: str = Field("default", description="named GRM server ($REFEREE_GRM_URL is `default`)")
    scale_min: int = 1
    scale_max: int = 10
    max_new_tokens: int | None = Field(None, ge=1, le=8192, description="critique length (server default if unset)")
    samples: int = Field(1, ge=1, le=64, description="critiques sampled per item; the reward is their mean score")
    temperature: float | None = Field(None, ge=0, le=2, description="sampling temperature (server default if unset)")
    principles: list[str] = Field(default_factory=list, description="principles for every item (a reference may add more)")
    after_reasoning: bool = True  # grade only what follows a closed </think> block

    @model_validator(mode="after")
    def _scale(self) -> GRMParams:
        if self.scale_max <= self.scale_min:
            raise ValueError("scale_max must be above scale_min")
        return self


class GRMReference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str
    reference: str | None = None
    principles: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class GRMServer:
    url: str
    api_key: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}


class GRMConfigError(LookupError):
    pass


def configured_servers(environ: Mapping[str, str] = os.environ) -> dict[str, GRMServer]:
    """Servers named in the environment; `default` comes from $REFEREE_GRM_URL."""
    servers: dict[str, GRMServer] = {}
    raw = environ.get(SERVERS_ENV_VAR, "").strip()
    if raw:
        try:
            table = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise GRMConfigError(f"${SERVERS_ENV_VAR} is not valid JSON: {exc}") from None
        if not isinstance(table, dict):
            raise GRMConfigError(f"${SERVERS_ENV_VAR} must be a JSON object of name -> url or {{url, api_key}}")
        for name, entry in table.items():
            if isinstance(entry, str):
                entry = {"url": entry}
            if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
                raise GRMConfigError(f"${SERVERS_ENV_VAR}[{name!r}] needs a url")
            servers[name] = GRMServer(url=entry["url"].rstrip("/"), api_key=entry.get("api_key"))
    if environ.get(URL_ENV_VAR, "").strip():
        servers["default"] = GRMServer(url=environ[URL_ENV_VAR].strip().rstrip("/"),
                                       api_key=environ.get("REFEREE_GRM_API_KEY") or None)
    return servers


class _Failure(Exception):
    """A call that failed in a way the verdict should name."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status


class GRMVerifier(Verifier):
    name = "grm"
    version = 1
    description = ("A generative reward model served by `referee grm serve` writes a critique and a score; "
                   "reward = score mapped onto [0, 1].")
    Params = GRMParams
    is_async = True

    def __init__(self, servers: Mapping[str, GRMServer | str] | None = None) -> None:
        # Servers given here (library use) take precedence over the environment's.
        self._servers = {k: GRMServer(v) if isinstance(v, str) else v for k, v in (servers or {}).items()}
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())

    def __reduce__(self) -> Any:
        return (GRMVerifier, (self._servers,))

    def config_key(self, params: GRMParams) -> str:
        """Which server (its URL) scores these params: another model behind another URL may judge
        differently, so the result cache must tell them apart."""
        try:
            server = self._server(params)
        except _Failure as failure:
            return f"unusable: {failure}"[:200]
        return server.url

    # -- request building --------------------------------------------------------------------

    def check_reference(self, reference: Any, params: GRMParams) -> dict[str, Any]:
        if isinstance(reference, str):
            reference = {"prompt": reference}
        if not isinstance(reference, dict):
            raise ValueError("reference must be the prompt (a string) or {prompt, reference?, principles?}")
        return GRMReference.model_validate(reference).model_dump()

    def _server(self, params: GRMParams) -> GRMServer:
        try:
            servers = {**configured_servers(), **self._servers}
        except GRMConfigError as exc:
            raise _Failure(Status.error, str(exc)) from None
        if params.server in servers:
            return servers[params.server]
        if not servers:
            raise _Failure(Status.error, f"no GRM server configured: set ${URL_ENV_VAR} "
                                         f"(or ${SERVERS_ENV_VAR}) to the URL of `referee grm serve`")
        raise _Failure(Status.invalid_input,
                       f"no GRM server named {params.server!r}; configured: {', '.join(sorted(servers))}")

    def _body(self, completion: str, reference: dict[str, Any], params: GRMParams) -> dict[str, Any]:
        response = after_reasoning(completion) if params.after_reasoning else completion
        item = {"prompt": reference["prompt"], "response": response}
        if reference.get("reference") is not None:
            item["reference"] = reference["reference"]
        principles = [*params.principles, *reference.get("principles", [])]
        if principles:
            item["principles"] = principles
        body: dict[str, Any] = {"items": [item], "scale": {"min": params.scale_min, "max": params.scale_max}}
        if params.max_new_tokens is not None:
            body["max_new_tokens"] = params.max_new_tokens
        if params.samples > 1:
            body["samples"] = params.samples
        if params.temperature is not None:
            body["temperature"] = params.temperature
        return body

    # -- response mapping ----------------------------------------------------------------------

    def _verdict(self, response: httpx.Response, server_name: str) -> Verdict:
        if response.status_code != 200:
            # 413/422: the server refused this item as it is (too many tokens asked, too large).
            status = Status.invalid_input if response.status_code in (413, 422) else Status.error
            raise _Failure(status, f"GRM server {server_name!r} answered HTTP {response.status_code}: "
                                   f"{_error_detail(response)}")
        try:
            payload = response.json()
            result = payload["results"][0]
            model = payload.get("model")
        except (ValueError, KeyError, IndexError, TypeError):
            raise _Failure(Status.error, f"GRM server {server_name!r} sent a malformed answer: "
                                         f"{response.text[:200]!r}") from None
        if not isinstance(result, dict):
            raise _Failure(Status.error, f"GRM server {server_name!r} sent a malformed result: {result!r:.200}")
        if result.get("error"):
            status = Status.invalid_input if result.get("error_kind") == "too_long" else Status.error
            return Verdict.failed(status, f"GRM: {result['error']}", details={"server": server_name})
        reward, score = result.get("reward"), result.get("score")
        if not isinstance(reward, (int, float)) or not isinstance(score, (int, float)):
            raise _Failure(Status.error, f"GRM server {server_name!r} returned no score: {result!r:.200}")
        details = {
            "critique": result.get("critique"),
            "score": score,
            "score_source": result.get("score_source"),
            "model": model,
            "server": server_name,
            "prompt_tokens": result.get("prompt_tokens"),
            "completion_tokens": result.get("completion_tokens"),
        }
        if result.get("score_probs"):
            details["score_probs"] = result["score_probs"]
        if result.get("samples"):
            details["sample_scores"] = [s.get("score") for s in result["samples"] if isinstance(s, dict)]
        return Verdict.scored(min(1.0, max(0.0, float(reward))), details=details)

    # -- transport -------------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(limits=httpx.Limits(max_connections=512, max_keepalive_connections=64))
            self._clients[loop] = client
        return client

    async def averify(self, completion: str, reference: Any, params: GRMParams, ctx: Context) -> Verdict:
        try:
            server = self._server(params)
            body = self._body(completion, reference, params)
            for attempt in range(RETRY_POLICY.max_retries + 1):
                remaining = ctx.remaining()
                if remaining <= 0:
                    raise _Failure(Status.timeout, f"deadline passed before the GRM server {params.server!r} answered")
                retry_after = None
                try:
                    response = await self._client().post(
                        server.url + SCORE_PATH, json=body, headers=server.headers, timeout=remaining)
                except httpx.TimeoutException:
                    raise _Failure(Status.timeout, f"GRM server {params.server!r} did not answer within "
                                                   f"the item's deadline ({remaining:.2f}s)") from None
                except httpx.TransportError as exc:
                    failure = _Failure(Status.error, f"GRM server {params.server!r} at {server.url} "
                                                     f"unreachable: {type(exc).__name__}: {exc}")
                else:
                    if response.status_code not in RETRY_STATUSES:
                        return self._verdict(response, params.server)
                    failure = _Failure(Status.error, f"GRM server {params.server!r} answered HTTP "
                                                     f"{response.status_code}: {_error_detail(response)}")
                    retry_after = parse_retry_after(response.headers)
                delay = RETRY_POLICY.delay(attempt, retry_after)
                if not RETRY_POLICY.may_retry(attempt) or not RETRY_POLICY.fits(delay, ctx.deadline):
                    raise failure
                await asyncio.sleep(delay)
            raise AssertionError("unreachable")
        except _Failure as failure:
            return Verdict.failed(failure.status, str(failure), details={"server": params.server})

    def verify(self, completion: str, reference: Any, params: GRMParams, ctx: Context) -> Verdict:
        """Blocking variant for worker processes and the in-process Python API."""
        try:
            server = self._server(params)
            body = self._body(completion, reference, params)
            remaining = ctx.remaining()
            if remaining <= 0:
                raise _Failure(Status.timeout, f"deadline passed before the GRM server {params.server!r} was asked")
            try:
                with httpx.Client() as client:
                    response = client.post(server.url + SCORE_PATH, json=body, headers=server.headers,
                                           timeout=remaining)
            except httpx.TimeoutException:
                raise _Failure(Status.timeout, f"GRM server {params.server!r} did not answer within "
                                               f"the item's deadline ({remaining:.2f}s)") from None
            except httpx.TransportError as exc:
                raise _Failure(Status.error, f"GRM server {params.server!r} at {server.url} unreachable: "
                                             f"{type(exc).__name__}: {exc}") from None
            return self._verdict(response, params.server)
        except _Failure as failure:
            return Verdict.failed(failure.status, str(failure), details={"server": params.server})


def _error_detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail if detail is not None else response.text)[:300]


__all__ = ["GRMVerifier", "GRMParams", "GRMServer", "configured_servers"]
