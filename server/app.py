"""The FastAPI application: `create_app()` wires the service, middleware and route modules."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from server.middleware import AuthAndMetricsMiddleware
from server.routes import ROUTE_MODULES
from server.service import Service
from server.settings import Settings


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    settings = settings or Settings()
    service = service or Service.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.executor.start()
        try:
            yield
        finally:
            await service.executor.close()

    app = FastAPI(
        title="Referee",
        version="1",
        description="Verifiable rewards for RL post-training: math, code, environments, judges.",
        lifespan=lifespan,
    )
    app.state.service = service
    for name in ROUTE_MODULES:
        app.include_router(importlib.import_module(f"server.routes.{name}").router)
    app.add_middleware(AuthAndMetricsMiddleware, service=service)
    return app
