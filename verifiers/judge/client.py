"""An OpenAI-compatible chat-completions client made for judging: bounded, retried, cached.

One `JudgeClient` per named judge holds what must be shared by every call to that server: the
token bucket, the circuit breaker, the reply cache and the structured-output mode that the server
turned out to accept. Loop-bound resources (the httpx client and the concurrency semaphore) are
made per event loop, so the same judge works from the server's loop and from `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ssl
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson

from verifiers.contract import Status
from verifiers.judge.config import JudgeConfig, JudgeConfigError
from verifiers.judge.backpressure import CircuitBreaker, TokenBucket
from verifiers.retry import RETRYABLE_STATUS, RetryPolicy, parse_retry_after

# Structured-output modes, strongest first; `auto` steps down this list when a server rejects one.
JSON_MODE_LADDER = ("json_schema", "json_object", "off")
EXCERPT = 300


class JudgeCallError(Exception):
    """A judge call that produced no reply; `status` is `error` or `timeout`."""

    def __init__(self, status: Status, reason: str, attempts: int = 0) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.attempts = attempts
        self.retries = 0  # re-sends after 429/5xx/timeouts (a structured-output step-down is not one)


@dataclass(frozen=True)
class ChatRequest:
    """What to ask; the schema is what a structured-output server should hold the answer to."""

    messages: tuple[dict[str, str], ...]
    temperature: float
    max_tokens: int
    seed: int | None = None
    schema: dict[str, Any] | None = None
    schema_name: str = "verdict"
    variant: int = 0  # sample index: keeps k unseeded samples apart in the cache (never sent)


@dataclass(frozen=True)
class ChatReply:
    text: str
    usage: dict[str, int]
    finish_reason: str | None
    json_mode: str
    attempts: int
    retries: int = 0
    cached: bool = False
    latency_ms: float = 0.0


@dataclass
class _Failure:
    reason: str
    retryable: bool
    timed_out: bool = False
    retry_after: float | None = None
    counts_against_server: bool = True  # feeds the circuit breaker (a 429 or a 4xx does not)
    rejected_response_format: bool = False


@dataclass
class _LoopState:
    http: httpx.AsyncClient
    slots: asyncio.Semaphore


@dataclass
class ClientStats:
    calls: int = 0
    cache_hits: int = 0
    attempts: int = 0
    retries: int = 0
    failures: int = 0
    json_mode_downgrades: list[str] = field(default_factory=list)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verified TLS context per process: building one costs ~30 ms of CPU, and a client is made
    per event loop (per call, from the blocking Python API)."""
    return httpx.create_ssl_context()


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


class JudgeClient:
    def __init__(self, config: JudgeConfig) -> None:
        self.config = config
        self.retry_policy = RetryPolicy(config.max_retries, config.backoff_initial_s, config.backoff_max_s)
        rps = config.requests_per_second
        self.bucket = TokenBucket(rps, config.burst or max(1, int(rps))) if rps else None
        self.breaker = CircuitBreaker(config.circuit_failures, config.circuit_reset_s)
        self.stats = ClientStats()
        self.json_mode = JSON_MODE_LADDER[0] if config.json_mode == "auto" else config.json_mode
        self._cache: OrderedDict[str, ChatReply] = OrderedDict()
        self._paused_until = 0.0  # time.monotonic() before which nothing is sent (from Retry-After)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
        self.url = f"{config.base_url}/chat/completions"

    # -- loop-bound resources -------------------------------------------------------------
    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            headers = {"content-type": "application/json", **self.config.headers}
            key = self.config.api_key()  # raises JudgeConfigError when the variable is missing
            if key:
                headers["authorization"] = f"Bearer {key}"
            n = self.config.max_concurrency
            http = httpx.AsyncClient(
                headers=headers,
                limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                trust_env=False,  # a judge address is explicit; never route it through a proxy
                verify=_tls_context(),
            )
            state = self._loops[loop] = _LoopState(http=http, slots=asyncio.Semaphore(n))
        return state

    async def aclose(self) -> None:
        """Close this loop's connections (the other loops' stay open)."""
        state = self._loops.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.http.aclose()

    # -- cache ------------------------------------------------------------------------------
    def cache_key(self, request: ChatRequest) -> str:
        payload = orjson.dumps(
            [self.config.base_url, self.config.model, self.config.extra_body, request.messages,
             request.temperature, request.max_tokens, request.seed, request.schema, request.variant],
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.blake2b(payload, digest_size=20).hexdigest()

    def forget(self, request: ChatRequest) -> None:
        """Drop a cached reply (the caller could not use it; the next ask goes to the server)."""
        self._cache.pop(self.cache_key(request), None)

    def _remember(self, key: str, reply: ChatReply) -> None:
        if self.config.cache_size <= 0:
            return
        self._cache[key] = reply
        self._cache.move_to_end(key)
        while len(self._cache) > self.config.cache_size:
            self._cache.popitem(last=False)

    # -- the call -----------------------------------------------------------------------------
    def _body(self, request: ChatRequest, json_mode: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            **self.config.extra_body,
            "model": self.config.model,
            "messages": list(request.messages),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.schema is not None and json_mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": True},
            }
        elif request.schema is not None and json_mode == "json_object":
            # `schema` here is how llama-cpp-python (and some hosted APIs) take a schema in JSON mode
            body["response_format"] = {"type": "json_object", "schema": request.schema}
        return body

    async def chat(self, request: ChatRequest, deadline: float) -> ChatReply:
        """One reply, or JudgeCallError. `deadline` is on the time.monotonic() clock."""
        self.stats.calls += 1
        key = self.cache_key(request)
        if (hit := self._cache.get(key)) is not None:
            with contextlib.suppress(KeyError):  # evicted meanwhile by another thread: still a hit
                self._cache.move_to_end(key)
            self.stats.cache_hits += 1
            return replace(hit, cached=True, attempts=0, retries=0, latency_ms=0.0)
        try:
            state = self._loop_state()
        except JudgeConfigError as exc:
            raise JudgeCallError(Status.error, str(exc)) from None

        progress = {"retries": 0}
        try:
            return await self._send_with_retries(state, request, key, deadline, progress)
        except JudgeCallError as exc:
            exc.retries = progress["retries"]
            raise

    async def _send_with_retries(self, state: _LoopState, request: ChatRequest, key: str, deadline: float,
                                 progress: dict[str, int]) -> ChatReply:
        attempts = retries = 0
        last: _Failure | None = None
        trial_mode: str | None = None  # a weaker structured-output mode this call is trying out
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._give_up(Status.timeout, "the item's deadline passed", last, attempts)
            if self.breaker.state == "open":  # fail fast, before spending a rate token or a slot
                raise self._circuit_open(attempts)
            if self.bucket is not None:
                wait = self.bucket.reserve(max_wait=remaining)
                if wait is None:
                    raise self._give_up(Status.timeout, "the rate limit "
                                        f"({self.config.requests_per_second}/s) would delay the call past the deadline",
                                        last, attempts)
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                if state.slots.locked():
                    await asyncio.wait_for(state.slots.acquire(), timeout=max(0.0, deadline - time.monotonic()))
                else:
                    await state.slots.acquire()  # free: no timer task needed
            except TimeoutError:
                raise self._give_up(Status.timeout, "no free slot (max_concurrency="
                                    f"{self.config.max_concurrency}) before the deadline", last, attempts) from None
            if (pause := self._paused_until - time.monotonic()) > 0:  # the server asked everyone to wait
                state.slots.release()
                if pause >= deadline - time.monotonic():
                    raise self._give_up(Status.timeout, f"the server asked for a {pause:.1f}s pause (Retry-After), "
                                        "longer than the time left", last, attempts)
                await asyncio.sleep(pause)
                continue
            allowed = self.breaker.allow()
            try:
                if allowed is not None:
                    attempts += 1
                    json_mode = trial_mode or self.json_mode
                    started = time.perf_counter()
                    outcome = await self._attempt(state.http, self._body(request, json_mode), deadline)
            except BaseException:  # cancelled mid-probe: let the next caller probe instead
                if allowed == "probe":
                    self.breaker.release_probe()
                raise
            finally:
                state.slots.release()
            if allowed is None:
                raise self._circuit_open(attempts)
            self.stats.attempts += 1

            if isinstance(outcome, tuple):
                text, usage, finish = outcome
                self.breaker.record_success()
                if trial_mode is not None:
                    self._settle_json_mode(trial_mode)
                reply = ChatReply(text=text, usage=usage, finish_reason=finish, json_mode=json_mode,
                                  attempts=attempts, retries=retries, latency_ms=round((time.perf_counter() - started) * 1000, 3))
                self._remember(key, reply)
                return reply

            last = outcome
            if outcome.counts_against_server:
                self.breaker.record_failure(outcome.reason)
            else:
                self.breaker.record_success()  # the server answered; it is alive
            if outcome.rejected_response_format and (weaker := self._weaker_json_mode(json_mode)):
                trial_mode = weaker
                continue  # same request, weaker structured-output mode; not a retry
            if not outcome.retryable:
                self.stats.failures += 1
                raise JudgeCallError(Status.error, outcome.reason, attempts)
            if not self.retry_policy.may_retry(retries):
                self.stats.failures += 1
                status = Status.timeout if outcome.timed_out else Status.error
                raise JudgeCallError(status, f"{outcome.reason} (gave up after {attempts} attempts)", attempts)
            delay = self.retry_policy.delay(retries, outcome.retry_after)
            if outcome.retry_after:  # holds back every caller of this judge, not just this one
                self._paused_until = max(self._paused_until, time.monotonic() + outcome.retry_after)
            if not self.retry_policy.fits(delay, deadline):
                raise self._give_up(Status.timeout, f"the next retry (in {delay:.1f}s) would start past the deadline",
                                    last, attempts)
            retries += 1
            progress["retries"] = retries
            self.stats.retries += 1
            await asyncio.sleep(delay)

    def _circuit_open(self, attempts: int) -> JudgeCallError:
        self.stats.failures += 1
        return JudgeCallError(
            Status.error,
            f"circuit open for judge {self.config.name!r} after repeated failures "
            f"(next probe in {self.breaker.retry_in():.1f}s); last error: {self.breaker.last_error}",
            attempts)

    def _give_up(self, status: Status, why: str, last: _Failure | None, attempts: int) -> JudgeCallError:
        self.stats.failures += 1
        tail = f"; last error: {last.reason}" if last else ""
        return JudgeCallError(status, f"judge {self.config.name!r}: {why} after {attempts} attempt(s){tail}", attempts)

    def _weaker_json_mode(self, rejected: str) -> str | None:
        """The mode to try after the server rejected `rejected`, if `auto` allows one."""
        if self.config.json_mode != "auto" or rejected == "off":
            return None
        return JSON_MODE_LADDER[JSON_MODE_LADDER.index(rejected) + 1]

    def _settle_json_mode(self, worked: str) -> None:
        """A weaker mode got an answer where a stronger one was rejected: use it from now on.
        Only a success settles it, so a request rejected for another reason (a prompt over the
        context length, say) does not cost the judge its structured output."""
        if JSON_MODE_LADDER.index(worked) > JSON_MODE_LADDER.index(self.json_mode):
            self.stats.json_mode_downgrades.append(f"{self.json_mode}->{worked}")
            self.json_mode = worked

    async def _attempt(self, http: httpx.AsyncClient, body: dict[str, Any],
                       deadline: float) -> tuple[str, dict[str, int], str | None] | _Failure:
        budget = max(0.001, min(self.config.timeout_s, deadline - time.monotonic()))
        timeout = httpx.Timeout(budget, connect=min(self.config.connect_timeout_s, budget))
        try:
            async with asyncio.timeout(budget + 0.05):  # httpx times each phase; this caps the whole call
                resp = await http.post(self.url, content=orjson.dumps(body), timeout=timeout)
        except (httpx.TimeoutException, TimeoutError):
            return _Failure(f"no reply within {budget:.2f}s", retryable=True, timed_out=True)
        except httpx.TransportError as exc:
            return _Failure(f"cannot reach {self.url}: {type(exc).__name__}: {exc}".rstrip(": "), retryable=True)

        code = resp.status_code
        if code == 200:
            return self._read_completion(resp)
        detail = _excerpt(resp.text)
        if "response_format" in body and (code in (400, 422) or "response_format" in detail):
            # some servers answer an unsupported response_format with 500 (llama-cpp-python does)
            return _Failure(f"request rejected (HTTP {code}): {detail}", retryable=False,
                            counts_against_server=False, rejected_response_format=True)
        if code == 429:
            return _Failure(f"rate limited (HTTP 429): {detail}", retryable=True,
                            retry_after=parse_retry_after(resp.headers), counts_against_server=False)
        if code in RETRYABLE_STATUS or code >= 500:
            return _Failure(f"server error (HTTP {code}): {detail}", retryable=True,
                            retry_after=parse_retry_after(resp.headers))
        hint = " (check api_key_env)" if code in (401, 403) else " (check base_url)" if code == 404 else ""
        return _Failure(f"request rejected (HTTP {code}){hint}: {detail}", retryable=False,
                        counts_against_server=False)

    def _read_completion(self, resp: httpx.Response) -> tuple[str, dict[str, int], str | None] | _Failure:
        try:
            data = orjson.loads(resp.content)
            choice = data["choices"][0]
            content = choice["message"].get("content") or ""
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
            kind = resp.headers.get("content-type", "no content-type")
            return _Failure(f"the server's reply is not a chat completion (HTTP 200, {kind}): {_excerpt(resp.text)}",
                            retryable=False)
        if not isinstance(content, str):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        raw_usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        usage = {k: int(v) for k, v in raw_usage.items()
                 if k in ("prompt_tokens", "completion_tokens", "total_tokens") and isinstance(v, (int, float))}
        return content, usage, choice.get("finish_reason")
