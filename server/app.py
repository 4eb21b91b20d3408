"""The FastAPI application: `create_app()` wires the runtime, middleware and route modules."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

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
    return app
