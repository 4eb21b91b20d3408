"""`POST /v1/sandbox/run`: run one program (language, source, files, stdin, limits) in isolation;
`GET /v1/sandbox/languages`: which languages this host can run, and why the others cannot.

The primitive for code-interpreter and tool-use environments. Programs run in a small pool of
warm sandboxes owned by this process (`REFEREE_SANDBOX_SLOTS`, default one per core), shared
fairly between callers (`sandbox.pool.FairSlots`): a caller that waits too long gets 429 with
Retry-After. Compiling counts against the request's own wall and CPU limits.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from starlette.concurrency import run_in_threadpool

from sandbox import ExecResult, Limits, find_language
from sandbox.availability import language_report
from sandbox.languages import user_languages
from sandbox.pool import FairSlots, SandboxPool, SlotsBusy, default_slots
from sandbox.session import bad_file_names
from verifiers.runtime import Overloaded
from server.openapi import error_responses, json_body
from server.routes.deps import StrictJSONRoute, caller_of, parse_request, read_body, service_of

router = APIRouter(tags=["sandbox"], route_class=StrictJSONRoute)

LANGUAGE_NAMES = [name for lang in user_languages() for name in dict.fromkeys((lang.name, *lang.aliases))]


class SandboxRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = Field(description="python, c, cpp, javascript, java, rust or bash (or an alias: py, c++, js ...)",
                          json_schema_extra={"enum": LANGUAGE_NAMES})
    source: str = Field(max_length=1_000_000)
    stdin: str = Field("", description="bounded by the request body limit (max_body_bytes)")
    files: dict[str, str] = Field(default_factory=dict, description="placed in the working directory")
    limits: Limits = Field(default_factory=Limits)

    @field_validator("language")
    @classmethod
    def _known(cls, value: str) -> str:
        lang = find_language(value)
        if lang is None or not lang.aliases:
            raise ValueError(f"unknown language {value!r}")
        return lang.name

    @field_validator("files")
    @classmethod
    def _relative(cls, value: dict[str, str]) -> dict[str, str]:
        problem = bad_file_names(value)
        if problem:
            raise ValueError(problem)
        return value


class SandboxRunResponse(ExecResult):
    compile: ExecResult | None = Field(None, description="the compiler's run, for compiled languages")


class LanguageStatus(BaseModel):
    name: str
    available: bool
    reason: str | None = Field(None, description="why the language cannot run here, and what to install")


class LanguagesResponse(BaseModel):
    sandbox: LanguageStatus = Field(description="the sandbox itself (bubblewrap)")
    languages: list[LanguageStatus]


_run_adapter = TypeAdapter(SandboxRunRequest)


def _pool(request: Request) -> tuple[SandboxPool, FairSlots]:
    state = request.app.state
    if getattr(state, "sandbox_pool", None) is None:
        size = default_slots()
        state.sandbox_pool = SandboxPool(size)
        per_caller = int(os.environ.get("REFEREE_SANDBOX_SLOTS_PER_CALLER", 0)) or None
        state.sandbox_slots = FairSlots(size, per_caller=per_caller,
                                        max_wait_s=float(os.environ.get("REFEREE_SANDBOX_WAIT_S", 10)))
    return state.sandbox_pool, state.sandbox_slots


def _execute(pool: SandboxPool, body: SandboxRunRequest, deadline: float) -> SandboxRunResponse:
    with pool.borrow() as box, box.program(body.language, body.source, limits=body.limits,
                                           deadline=deadline) as prog:
        compiled = prog.compile_result
        if compiled is not None and not compiled.ok:
            return SandboxRunResponse(**compiled.model_dump(), compile=compiled)
        result = prog.run(stdin=body.stdin, files=body.files, limits=prog.remaining_limits())
        return SandboxRunResponse(**result.model_dump(), compile=compiled)


async def run_in_sandbox(body: SandboxRunRequest, request: Request) -> SandboxRunResponse:
    """Run a validated request on this app's sandbox pool: the one path for every program the
    service runs on request (`POST /v1/sandbox/run`, and SandboxFusion's run_code in compat).
    The caller waits for a fair share of the slots; past the wait deadline it is a 429."""
    pool, slots = _pool(request)
    if body.limits.wall_time_s > service_of(request).settings.max_timeout_s:
        raise HTTPException(422, "limits.wall_time_s is over the server's max_timeout_s")
    try:
        async with slots.slot(caller_of(request), expected_s=body.limits.wall_time_s):
            deadline = time.monotonic() + body.limits.wall_time_s
            return await run_in_threadpool(_execute, pool, body, deadline)
    except SlotsBusy as exc:
        raise _too_many(exc) from None


@router.post(
    "/v1/sandbox/run",
    response_model=SandboxRunResponse,
    openapi_extra=json_body(SandboxRunRequest),
    responses=error_responses(400, 413, 422, 429),
)
async def run_program(request: Request) -> Any:
    """Compile (if needed) and run once; compile and run together keep within `limits`' wall and
    CPU time. The status says how it ended: ok, runtime_error, timeout, memory_limit, output_limit,
    compile_error or sandbox_error; HTTP errors are for bad requests (4xx) and a full pool (429)."""
    _, slots = _pool(request)
    try:
        slots.check_room()  # before reading a body that may be large
    except SlotsBusy as exc:
        raise _too_many(exc) from None
    body = parse_request(await read_body(request, service_of(request).settings.max_body_bytes), _run_adapter)
    return await run_in_sandbox(body, request)


def _too_many(exc: SlotsBusy) -> HTTPException:
    busy = Overloaded(str(exc), exc.retry_after_s)  # the service's one shape of a 429
    return HTTPException(429, str(busy), headers={"retry-after": busy.retry_after_header})


@router.get("/v1/sandbox/languages", response_model=LanguagesResponse)
async def languages() -> Any:
    """Which languages can run on this host, and for each one that cannot, why and what to install."""
    sandbox_reason, by_language = await run_in_threadpool(language_report)
    return LanguagesResponse(
        sandbox=LanguageStatus(name="sandbox", available=sandbox_reason is None, reason=sandbox_reason),
        languages=[LanguageStatus(name=name, available=reason is None, reason=reason)
                   for name, reason in by_language.items()])
