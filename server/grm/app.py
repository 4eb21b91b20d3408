"""The GRM service's FastAPI application."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from server.grm.batcher import Batcher
from server.grm.model import GRMModel
from server.grm.routes import health_router, router
from server.grm.scorer import GRMScorer, Limits, ScoreJob, ScoreOutcome
from server.grm.settings import GRMSettings


class BodyLimit:
    """Refuses a body whose declared length is over the limit before any of it is read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.limit:
                detail = f"request body of {int(declared)} bytes is over the limit max_body_bytes={self.limit}"
                await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def require_key(request: Request) -> None:
    keys: frozenset[str] = request.app.state.keys
    if not keys:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not any(hmac.compare_digest(token.encode(), k.encode()) for k in keys):
        raise HTTPException(401, "missing or wrong API key (send Authorization: Bearer <key>)",
                            headers={"WWW-Authenticate": "Bearer"})


def create_grm_app(settings: GRMSettings | None = None, model: GRMModel | None = None) -> FastAPI:
    """Load the model (unless given one) and wire scorer, batcher and routes.

    Loading happens here, before any port is bound, so a bad model path fails the start-up
    with its reason instead of serving errors.
    """
    settings = settings or GRMSettings()
    if model is None:
        if not settings.model:
            raise ValueError("no model given: pass --model PATH or set REFEREE_GRM_MODEL")
        model = GRMModel.load(settings.model, device=settings.device, dtype=settings.dtype,
                              threads=settings.threads)
    scorer = GRMScorer(model, Limits(max_input_chars=settings.max_input_chars,
                                     max_input_tokens=settings.max_input_tokens,
                                     fallback_token_budget=settings.fallback_token_budget))
    batcher: Batcher[ScoreJob, ScoreOutcome] = Batcher(
        scorer.score_batch, max_batch=settings.max_batch,
        max_wait_s=settings.max_wait_ms / 1000, max_queue=settings.max_queue, cost=lambda job: job.sequences)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await batcher.close()

    app = FastAPI(title="Referee GRM", version="1", lifespan=lifespan,
                  description="A generative reward model: critique and score per item, batched generation.")
    app.state.settings = settings
    app.state.keys = settings.keys()
    app.state.batcher = batcher
    app.state.model_name = model.name
    app.state.placement = model.placement
    app.include_router(router, dependencies=[Depends(require_key)])
    app.include_router(health_router)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app
