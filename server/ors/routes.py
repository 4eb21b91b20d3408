"""The ORS HTTP endpoints (mounted at `/v1/ors`, and at the root for clients that ignore base paths).

Paths follow the Open Reward Standard: discovery (`/health`, `/list_environments`,
`/{env}/tools|splits|tasks|num_tasks|task|task_range`), sessions (`/create_session`, `/create`,
`/ping`, `/delete`, `/delete_session`) and the episode (`/{env}/prompt`, `/{env}/task_tools`,
`/{env}/call` as Server-Sent Events). Each `/{env}/…` path also answers without the environment
segment (the `openreward` client sends bare paths): the environment is then the session's, or the
one named by the `X-Deployment` header, or the first one listed. Errors are `{"detail": "..."}`
with the status the specification gives; Referee adds `GET /{env}/verdict`, the episode's state
and final verdict.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool

from envs import GenerationBudgetExceeded
from server.ors import sse
from server.ors.catalog import OrsEnvironment, TaskSpecError
from server.ors.episodes import Episode, ToolInputError, cell_output, text_block, tool_specs
from server.ors.service import OrsService
from server.ors.sessions import Session, SessionError, owner_of
from server.routes.deps import StrictJSONRoute, read_body

class ErrorBody(BaseModel):
    detail: str


# Every ORS error is {"detail": "..."}; which ones an endpoint can answer is in docs/sessions.md.
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody, "description": text} for code, text in (
    (400, "bad request: invalid split, index or task spec, missing X-Session-ID, episode already created"),
    (401, "missing or invalid API key"),
    (404, "unknown environment, or no such session (never issued, or another key's)"),
    (410, "the session was deleted or expired"),
    (413, "request body over the size limit"),
    (422, "request body of the wrong shape"),
    (429, "too many live sessions"),
)}
SSE_RESPONSE: dict[int | str, dict[str, Any]] = {200: {
    "description": "Server-Sent Events: task_id, then chunk... end (or error); `: ping` comments while running",
    "content": {"text/event-stream": {"schema": {"type": "string"}}}}}

router = APIRouter(tags=["ors"], route_class=StrictJSONRoute, responses=ERRORS)
MAX_TASKS_PER_LIST = 100_000
JSON = "application/json"
M = TypeVar("M", bound=BaseModel)


class SplitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    split: str


class TaskRequest(SplitRequest):
    index: int


class TaskRangeRequest(SplitRequest):
    start: int | None = None
    stop: int | None = None


class CreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    env_name: str | None = None
    task_spec: dict[str, Any] | None = None
    split: str | None = None
    index: int | None = None
    toolset_name: str | None = None


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    input: dict[str, Any]
    task_id: str | None = None


# -- helpers -----------------------------------------------------------------------------------------

def service_of(request: Request) -> OrsService:
    return request.app.state.ors


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


async def parse(request: Request, model: type[M]) -> M:
    body = await read_body(request, service_of(request).max_body_bytes)
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        raise HTTPException(422, f"invalid request body: {where}: {err['msg']}") from None


def api_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def session_of(request: Request) -> Session:
    sid = (request.headers.get("x-session-id") or "").strip()
    try:
        return service_of(request).store.get(sid, owner_of(api_key(request)))
    except SessionError as exc:
        raise HTTPException(exc.status, str(exc), headers=exc.headers) from None


def environment(request: Request, env_name: str | None) -> OrsEnvironment:
    """The environment of a discovery path: named in it, else by X-Deployment, else the first one."""
    catalog = service_of(request).catalog
    if env_name is None:
        deployment = request.headers.get("x-deployment", "")
        env_name = deployment if catalog.get(deployment) is not None else next(iter(catalog.names()), "")
    env = catalog.get(env_name)
    if env is None:
        raise HTTPException(404, f"unknown environment {env_name!r}; GET /list_environments lists them")
    return env


def episode_of(request: Request, env_name: str | None) -> tuple[Session, Episode]:
    session = session_of(request)
    if session.episode is None:
        raise HTTPException(404, "the session has no episode yet: POST /create first")
    if env_name is not None and env_name != session.episode.env.name:
        raise HTTPException(400, f"the session plays {session.episode.env.name!r}, not {env_name!r}")
    return session, session.episode


def check_split(env: OrsEnvironment, split: str) -> None:
    if split not in env.split_names():
        raise HTTPException(400, f"Invalid split {split!r}; {env.name} has {env.split_names()}")


def both(path: str, method: str, **kwargs: Any):
    """Register a handler at `/{env_name}{path}` and at the bare `{path}`."""
    def register(handler):
        router.add_api_route(f"/{{env_name}}{path}", handler, methods=[method], **kwargs)
        router.add_api_route(path, handler, methods=[method], **kwargs)
        return handler
    return register


# -- discovery ---------------------------------------------------------------------------------------

@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """`{"status": "ok"}`, plus this process's live sessions and interpreters."""
    service = service_of(request)
    return {"status": "ok", "sessions": len(service.store), "interpreters": len(service.interpreters),
            "max_sessions": service.store.max_sessions}


@router.get("/list_environments")
async def list_environments(request: Request) -> list[str]:
    return service_of(request).catalog.names()


@both("/tools", "GET")
async def tools(request: Request, env_name: str | None = None) -> Response:
    return json_response({"tools": tool_specs(environment(request, env_name))})


@both("/splits", "GET")
async def splits(request: Request, env_name: str | None = None) -> Response:
    return json_response([{"name": s.name, "type": s.type} for s in environment(request, env_name).splits()])


@both("/tasks", "POST")
async def tasks(request: Request, env_name: str | None = None) -> Response:
    env = environment(request, env_name)
    body = await parse(request, SplitRequest)
    check_split(env, body.split)
    count = env.num_tasks(body.split)
    if count > MAX_TASKS_PER_LIST:
        raise HTTPException(400, f"split {body.split!r} has {count} tasks, over {MAX_TASKS_PER_LIST} for one list; "
                                 "use num_tasks with task or task_range instead")
    return json_response({"tasks": env.tasks(body.split), "env_name": env.name})


@both("/num_tasks", "POST")
async def num_tasks(request: Request, env_name: str | None = None) -> Response:
    env = environment(request, env_name)
    body = await parse(request, SplitRequest)
    check_split(env, body.split)
    return json_response({"num_tasks": env.num_tasks(body.split)})


@both("/task", "POST")
async def task(request: Request, env_name: str | None = None) -> Response:
    env = environment(request, env_name)
    body = await parse(request, TaskRequest)
    check_split(env, body.split)
    try:
        return json_response({"task": env.task(body.split, body.index), "env_name": env.name})
    except IndexError as exc:
        raise HTTPException(400, f"Invalid index: {exc}") from None


@both("/task_range", "POST")
async def task_range(request: Request, env_name: str | None = None) -> Response:
    env = environment(request, env_name)
    body = await parse(request, TaskRangeRequest)
    check_split(env, body.split)
    indexes = range(*slice(body.start, body.stop).indices(env.num_tasks(body.split)))
    if len(indexes) > MAX_TASKS_PER_LIST:
        raise HTTPException(400, f"a range of {len(indexes)} tasks is over {MAX_TASKS_PER_LIST}; ask for less")
    return json_response({"tasks": [env.task(body.split, i) for i in indexes], "env_name": env.name})


# -- sessions ----------------------------------------------------------------------------------------

@router.post("/create_session", responses={200: {
    "description": '`{"sid": ...}`, or with Accept: text/event-stream the events task_id (the sid) and end',
    "content": {"application/json": {}, "text/event-stream": {"schema": {"type": "string"}}}}})
async def create_session(request: Request) -> Response:
    """A new session id: SSE (`task_id` then `end`) for SSE clients, else `{"sid": ...}`."""
    service = service_of(request)
    try:
        session = service.store.open(owner_of(api_key(request)))
    except SessionError as exc:
        raise HTTPException(exc.status, str(exc), headers=exc.headers) from None
    if "text/event-stream" in request.headers.get("accept", ""):
        body = sse.event("task_id", session.sid) + sse.event("end", "")
        return Response(body, media_type="text/event-stream", headers=sse.HEADERS)
    return json_response({"sid": session.sid})


@router.post("/create")
async def create(request: Request) -> Response:
    service = service_of(request)
    session = session_of(request)
    body = await parse(request, CreateRequest)
    if session.episode is not None:
        raise HTTPException(400, "Session already exists: it already has an episode")
    if body.toolset_name is not None:
        raise HTTPException(400, f"unknown toolset {body.toolset_name!r}; this server offers none")
    env = environment(request, body.env_name)
    try:
        if body.task_spec is not None:
            if body.split is not None or body.index is not None:
                raise HTTPException(422, "give either task_spec or split and index, not both")
            task_spec = env.check_task(body.task_spec)
        elif body.split is not None and body.index is not None:
            check_split(env, body.split)
            task_spec = env.task(body.split, body.index)
        else:
            raise HTTPException(422, "give task_spec, or split and index")
    except TaskSpecError as exc:
        raise HTTPException(400, f"Invalid task_spec: {exc}") from None
    except IndexError as exc:
        raise HTTPException(400, f"Invalid index: {exc}") from None
    session.episode = Episode(env=env, task=task_spec)
    service.created += 1
    return json_response({"sid": session.sid})


@router.post("/ping")
async def ping(request: Request) -> Response:
    session_of(request)  # touching the session is the point
    return json_response({"status": "ok"})


async def _delete(request: Request) -> Response:
    service = service_of(request)
    sid = (request.headers.get("x-session-id") or "").strip()
    if not sid:
        raise HTTPException(400, "X-Session-ID header is required")
    owner = owner_of(api_key(request))
    session = service.store.sessions.get(sid)
    if session is not None and session.owner == owner:
        await service.store.close(sid)
        return json_response({"sid": sid})
    tomb = service.store.tombstones.get(sid)
    if tomb is not None and tomb.owner == owner:  # deleting twice is harmless (clients call both deletes)
        return json_response({"sid": sid})
    raise HTTPException(404, f"session {sid} not found")


router.add_api_route("/delete", _delete, methods=["POST"])
router.add_api_route("/delete_session", _delete, methods=["POST"])


# -- the episode -------------------------------------------------------------------------------------

@both("/prompt", "GET")
async def prompt(request: Request, env_name: str | None = None) -> Response:
    _, episode = episode_of(request, env_name)
    if episode.prompt_text is None:
        try:
            text = await run_in_threadpool(episode.env.prompt, episode.task)
        except GenerationBudgetExceeded as exc:
            raise HTTPException(422, f"this task cannot be generated: {exc}") from None
        episode.prompt_text = text + episode.prompt_suffix()
    return json_response([text_block(episode.prompt_text)])


@both("/task_tools", "GET")
async def task_tools(request: Request, env_name: str | None = None) -> Response:
    _, episode = episode_of(request, env_name)
    return json_response({"tools": tool_specs(episode.env)})


@both("/verdict", "GET")
async def verdict(request: Request, env_name: str | None = None) -> Response:
    """Referee's addition: the episode's state and final verdict, also after the session closed."""
    service = service_of(request)
    sid = (request.headers.get("x-session-id") or "").strip()
    tomb = service.store.tombstones.get(sid)
    if tomb is not None and tomb.owner == owner_of(api_key(request)):
        if tomb.summary is None:
            raise HTTPException(404, f"session {sid} was {tomb.reason} before it had an episode")
        return json_response({**tomb.summary, "closed": tomb.reason})
    _, episode = episode_of(request, env_name)
    return json_response({**episode.summary(), "closed": None})


@both("/call", "POST", responses=SSE_RESPONSE)
async def call(request: Request, env_name: str | None = None) -> Response:
    service = service_of(request)
    session, episode = episode_of(request, env_name)
    body = await parse(request, ToolCall)
    if session.closed:  # closed while the body was read
        raise HTTPException(410, f"session {session.sid} was closed")
    known = session.calls.get(body.task_id) if body.task_id else None
    if known is not None:  # a reconnecting client: stream the call it started, never run it twice
        task_id, task = body.task_id, known[0]
    else:
        task_id = body.task_id or uuid.uuid4().hex
        task = asyncio.ensure_future(_run_tool(service, session, episode, body))
        session.remember_call(task_id, task)
    whole = await sse.quick_result(task_id, task)
    if whole is not None:  # most calls: one plain response, no streaming machinery
        return Response(whole, media_type="text/event-stream", headers=sse.HEADERS)
    return StreamingResponse(sse.task_stream(task_id, task, service.ping_interval_s),
                             media_type="text/event-stream", headers=sse.HEADERS)


async def _run_tool(service: OrsService, session: Session, episode: Episode, call: ToolCall) -> str:
    async with session.busy:
        try:
            result = await _dispatch(service, session, episode, call)
            metadata = result["output"]["metadata"] or {}
            outcome = metadata.get("stopped") or metadata.get("status") or ("error" if metadata.get("error") else "ok")
        except ToolInputError as exc:
            result = {"ok": False, "error": str(exc), "reason": exc.reason}
            outcome = exc.reason
        finally:
            session.touch()
        service.count_call(call.name, outcome)
    return orjson.dumps(result).decode()


async def _dispatch(service: OrsService, session: Session, episode: Episode, call: ToolCall) -> dict[str, Any]:
    if episode.finished:
        raise ToolInputError("episode_finished", "the episode is finished; open a new session for another task")
    names = [spec["name"] for spec in tool_specs(episode.env)]
    if call.name not in names:
        raise ToolInputError("not_found", f"{call.name!r} is not a valid tool of {episode.env.name}; tools: {names}")
    if call.name == "submit":
        _expect_keys(call, "answer")
        return await episode.submit(call.input["answer"], service.scorer)
    _expect_keys(call, "code")
    code = call.input["code"]
    if not isinstance(code, str):
        raise ToolInputError("input_validation", "Tool input validation error: 'code' must be a string")
    if session.closed:  # never start an interpreter for a closed session: nothing would stop it
        raise ToolInputError("episode_finished", "the session was closed")
    return cell_output(await service.interpreters.run(session.sid, code))


def _expect_keys(call: ToolCall, key: str) -> None:
    if set(call.input) != {key}:
        raise ToolInputError("input_validation", f"Tool input validation error: {call.name} takes exactly "
                                                 f"{{{key!r}: ...}}, got keys {sorted(call.input)}")
