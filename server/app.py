"""The FastAPI application: `create_app()` wires the runtime, middleware and route modules."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from server.auth import AuthAndMetricsMiddleware
from server.routes import ROUTE_MODULES
from server.runtime import ServiceRuntime
from server.settings import Settings


def create_app(settings: Settings | None = None, runtime: ServiceRuntime | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = runtime or ServiceRuntime.embedded(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.executor.start()
        try:
            yield
        finally:
            await runtime.executor.close()
            for name in ("sampler", "sandbox_pool"):  # started on first use by their routes
                if getattr(app.state, name, None) is not None:
                    getattr(app.state, name).close()

    app = FastAPI(
        title="Referee",
        version="1",
        description="Verifiable rewards for RL post-training: math, code, environments, judges.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    for name in ROUTE_MODULES:
        app.include_router(importlib.import_module(f"server.routes.{name}").router)
    app.add_middleware(AuthAndMetricsMiddleware, runtime=runtime)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    return app


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming the first bad field. The offending input is not echoed: it may be huge, or a
    non-finite number that JSON cannot carry."""
    errors = exc.errors()
    err = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in err.get("loc", ())) or "body"
    return JSONResponse({"detail": f"{where}: {err.get('msg', 'invalid')}"}, status_code=422)
