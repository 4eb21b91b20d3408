"""Bearer-token auth and request counting, as one plain ASGI middleware (cheap on the hot path)."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.service import Service

OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/redoc")


def _token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


class AuthAndMetricsMiddleware:
    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        keys = self.service.api_keys
        if keys and not path.startswith(OPEN_PATHS):
            token = _token(scope)
            if token is None or not any(hmac.compare_digest(token, k) for k in keys):
                await _reject(send)
                self.service.metrics.requests.labels("auth", "401").inc()
                return
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.service.metrics.requests.labels(label, str(status)).inc()


async def _reject(send: Send) -> None:
    body = b'{"detail":"missing or invalid API key: send Authorization: Bearer <key>"}'
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
    await send({"type": "http.response.body", "body": body})
