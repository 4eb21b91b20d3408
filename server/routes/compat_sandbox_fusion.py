"""`POST /v1/compat/sandbox-fusion/run_code`: SandboxFusion's run_code over Referee's sandbox.

verl's `reward.sandbox_fusion.url` and the `sandbox-fusion` client package post SandboxFusion's
request (`code, stdin, language, compile_timeout, run_timeout, memory_limit_MB, files,
fetch_files`) and read its answer: `status` Success / Failed / SandboxError, and per stage a
`compile_result` / `run_result` with status Finished / TimeLimitExceeded / Error, return_code,
stdout, stderr and execution_time (seconds). The program runs through `run_in_sandbox`, the
function behind `POST /v1/sandbox/run`.
"""

from __future__ import annotations

import base64
import binascii
from enum import Enum

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, ValidationError

from sandbox import ExecResult, ExecStatus, Limits, find_language
from server.routes.sandbox import SandboxRunRequest, run_in_sandbox
from server.routes.deps import StrictJSONRoute

router = APIRouter(prefix="/v1/compat/sandbox-fusion", tags=["compat"], route_class=StrictJSONRoute)


class RunStatus(str, Enum):
    Success = "Success"  # every stage finished with return code 0
    Failed = "Failed"  # a stage timed out or returned non-zero
    SandboxError = "SandboxError"  # the sandbox could not run it


class CommandRunStatus(str, Enum):
    Finished = "Finished"
    TimeLimitExceeded = "TimeLimitExceeded"
    Error = "Error"


class CommandRunResult(BaseModel):
    status: CommandRunStatus
    execution_time: float | None = None
    return_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None


class RunCodeRequest(BaseModel):
    compile_timeout: float = Field(10, description="accepted; compilers run under the sandbox's compile limits")
    run_timeout: float = Field(10, gt=0, description="seconds of wall and CPU time for the run")
    memory_limit_MB: int = Field(-1, description="memory of the run; -1: the sandbox default")
    code: str
    stdin: str | None = None
    language: str = Field(description="python, cpp, nodejs, java, rust, bash (or Referee's names: c, javascript ...)")
    files: dict[str, str | None] = Field(default_factory=dict, description="path -> base64 content")
    fetch_files: list[str] = Field(default_factory=list, description="not supported: must be empty")


class RunCodeResponse(BaseModel):
    status: RunStatus
    message: str = ""
    compile_result: CommandRunResult | None = None
    run_result: CommandRunResult | None = None
    executor_pod_name: str | None = None
    files: dict[str, str] = Field(default_factory=dict)


_STAGE_STATUS = {
    ExecStatus.timeout: CommandRunStatus.TimeLimitExceeded,
    ExecStatus.sandbox_error: CommandRunStatus.Error,
}


def _stage(result: ExecResult) -> CommandRunResult:
    """One stage as SandboxFusion reports it: a killed program finished with a non-zero code."""
    status = _STAGE_STATUS.get(result.status, CommandRunStatus.Finished)
    code = result.exit_code
    if status is CommandRunStatus.Finished and code is None:
        code = 128 + result.signal if result.signal is not None else 1
    stderr = result.stderr
    if result.status in (ExecStatus.memory_limit, ExecStatus.output_limit) and result.message:
        stderr = f"{stderr}\n{result.message}" if stderr else result.message
    return CommandRunResult(status=status, execution_time=result.wall_ms / 1000,
                            return_code=code if status is not CommandRunStatus.TimeLimitExceeded else None,
                            stdout=result.stdout, stderr=stderr)


def _overall(*stages: CommandRunResult | None) -> tuple[RunStatus, str]:
    ran = [s for s in stages if s is not None]
    for stage in ran:
        if stage.status is CommandRunStatus.Error:
            return RunStatus.SandboxError, stage.stderr or "sandbox error"
    if any(s.status is CommandRunStatus.TimeLimitExceeded or s.return_code != 0 for s in ran):
        return RunStatus.Failed, ""
    return RunStatus.Success, ""


def _sandbox_error(message: str) -> RunCodeResponse:
    return RunCodeResponse(status=RunStatus.SandboxError, message=message)


def _decoded_files(files: dict[str, str | None]) -> dict[str, str]:
    decoded = {}
    for path, content in files.items():
        try:
            decoded[path] = base64.b64decode(content or "", validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"file {path!r} is not base64 of UTF-8 text: {exc}") from None
    return decoded


MAX_RUN_S = 120.0  # the sandbox's CPU-time ceiling (Limits.cpu_time_s)


def _limits(body: RunCodeRequest) -> Limits:
    seconds = min(body.run_timeout, MAX_RUN_S)
    update: dict[str, float | int] = {"wall_time_s": seconds, "cpu_time_s": seconds}
    if body.memory_limit_MB > 0:
        update["memory_mb"] = max(16, min(body.memory_limit_MB, 16384))
    return Limits(**update)


@router.post("/run_code", response_model=RunCodeResponse)
async def run_code(body: RunCodeRequest, request: Request) -> RunCodeResponse:
    """Compile (if needed) and run once; a request the sandbox cannot honour answers SandboxError."""
    lang = find_language(body.language)
    if lang is None:
        return _sandbox_error(f"language {body.language!r} is not available in Referee's sandbox")
    if body.fetch_files:
        return _sandbox_error("fetch_files is not supported by Referee's sandbox")
    try:
        run = SandboxRunRequest(language=lang.name, source=body.code, stdin=body.stdin or "",
                                files=_decoded_files(body.files), limits=_limits(body))
    except (ValueError, ValidationError) as exc:
        return _sandbox_error(str(exc))
    result = await run_in_sandbox(run, request)
    if result.status is ExecStatus.compile_error and lang.compile is None:
        # Python "compiles" while loading: SandboxFusion reports that as the run failing
        compile_stage, run_stage = None, _stage(result.model_copy(update={"status": ExecStatus.runtime_error,
                                                                         "exit_code": result.exit_code or 1}))
    elif result.compile is not None and not result.compile.ok:
        compile_stage, run_stage = _stage(result.compile), None
        if result.compile.status is ExecStatus.compile_error and compile_stage.return_code == 0:
            compile_stage.return_code = 1
    else:
        compile_stage = _stage(result.compile) if result.compile is not None else None
        run_stage = _stage(result)
    status, message = _overall(compile_stage, run_stage)
    return RunCodeResponse(status=status, message=message, compile_result=compile_stage, run_result=run_stage)
