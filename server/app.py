"""The FastAPI application: `create_app()` wires the service, middleware and route modules."""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from server import openapi
from server.middleware import AuthAndMetricsMiddleware
from server.ors.paths import CollapseSlashes
from server.ors.routes import router as ors_router
from server.ors.service import OrsService
from server.routes import ROUTE_MODULES
from server.service import Service
from server.settings import Settings


GC_THRESHOLDS = (10_000, 5, 40)  # CPython's defaults are (700, 10, 10)


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    settings = settings or Settings()
    service = service or Service.from_settings(settings)
    ors = OrsService.from_settings(settings, service.registry, service.scorer)
    ors.register_metrics(service.metrics.registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.executor.start()
        ors.start()
        # Everything loaded so far (verifier engines, sympy, the registry) lives as long as the
        # server: out of the collector's sight. A 16,384-item batch allocates ~10^6 objects, and
        # each full collection over them holds the event loop for tens of ms: collect the young
        # generations less often, so that a big batch meets about one full collection, not dozens.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        # Several API replicas share one Redis store: each follows what the others register.
        follow = asyncio.create_task(service.follow_registrations()) if settings.redis_url else None
        try:
            yield
        finally:
            if follow is not None:
                follow.cancel()
            await ors.close()
            await service.executor.close()
            for name in ("sampler", "sandbox_pool"):  # started on first use by their routes
                if getattr(app.state, name, None) is not None:
                    getattr(app.state, name).close()

    app = FastAPI(
        title="Referee",
        version="1",
        description="Verifiable rewards for RL post-training: math, code, environments, judges.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.ors = ors
    for name in ROUTE_MODULES:
        app.include_router(importlib.import_module(f"server.routes.{name}").router)
    app.include_router(ors_router, prefix="/v1/ors")
    # The `openreward` client joins absolute paths to its base URL, so it reaches the server root:
    # the same endpoints answer there too (after every other route).
    app.include_router(ors_router, include_in_schema=False)
    app.add_middleware(AuthAndMetricsMiddleware, service=service)
    app.add_middleware(CollapseSlashes)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    openapi.install(app)
    return app


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with FastAPI's list of field errors, without the offending inputs: they may be huge,
    or non-finite numbers that JSON cannot carry."""
    errors = [{"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "invalid")), "type": str(err.get("type", ""))}
              for err in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)
