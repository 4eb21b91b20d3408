"""`POST /v1/sandbox/run`: run one program (language, source, files, stdin, limits) in isolation.

The primitive for code-interpreter and tool-use environments. Programs run in a small pool of
warm sandboxes owned by this process (`REFEREE_SANDBOX_SLOTS`, default one per core).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from sandbox import ExecResult, Limits, find_language
from sandbox.pool import SandboxPool
from sandbox.session import bad_file_names

router = APIRouter(tags=["sandbox"])


class SandboxRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = Field(description="python, c, cpp, javascript, java, rust or bash (or an alias: py, c++, js ...)")
    source: str = Field(max_length=1_000_000)
    stdin: str = Field("", max_length=64 * 2**20)
    files: dict[str, str] = Field(default_factory=dict, description="placed in the working directory")
    limits: Limits = Field(default_factory=Limits)

    @field_validator("language")
    @classmethod
    def _known(cls, value: str) -> str:
        lang = find_language(value)
        if lang is None:
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


def _pool(request: Request) -> tuple[SandboxPool, asyncio.Semaphore]:
    state = request.app.state
    if getattr(state, "sandbox_pool", None) is None:
        state.sandbox_pool = SandboxPool()
        state.sandbox_slots = asyncio.Semaphore(state.sandbox_pool.size)
    return state.sandbox_pool, state.sandbox_slots


def _execute(pool: SandboxPool, body: SandboxRunRequest) -> SandboxRunResponse:
    with pool.borrow() as box, box.program(body.language, body.source, limits=body.limits) as prog:
        compiled = prog.compile_result
        if compiled is not None and not compiled.ok:
            return SandboxRunResponse(**compiled.model_dump(), compile=compiled)
        result = prog.run(stdin=body.stdin, files=body.files)
        return SandboxRunResponse(**result.model_dump(), compile=compiled)


async def run_in_sandbox(body: SandboxRunRequest, request: Request) -> SandboxRunResponse:
    """Run a validated request on this app's sandbox pool: the one path for every program the
    service runs on request (`POST /v1/sandbox/run`, and SandboxFusion's run_code in compat)."""
    pool, slots = _pool(request)
    if body.limits.wall_time_s > request.app.state.service.settings.max_timeout_s:
        raise HTTPException(422, "limits.wall_time_s is over the server's max_timeout_s")
    async with slots:
        return await run_in_threadpool(_execute, pool, body)


@router.post("/v1/sandbox/run", response_model=SandboxRunResponse)
async def run_program(body: SandboxRunRequest, request: Request) -> SandboxRunResponse:
    """Compile (if needed) and run once. The status says how it ended: ok, runtime_error, timeout,
    memory_limit, output_limit, compile_error or sandbox_error; HTTP errors are for bad requests only."""
    return await run_in_sandbox(body, request)
