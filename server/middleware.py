"""Bearer-token auth and request counting, as one plain ASGI middleware (cheap on the hot path)."""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.service import Service

OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/redoc")
ADMIN_PREFIX = "/v1/verifiers"


def is_admin_request(method: str, path: str) -> bool:
    """Registering (POST /v1/verifiers) and retiring (DELETE /v1/verifiers/NAME@VERSION); probing is not."""
    if method == "POST":
        return path.rstrip("/") == ADMIN_PREFIX
    return method == "DELETE" and path.startswith(ADMIN_PREFIX + "/")


def _token(scope: Scope) -> str | None:
    """The bearer token, or the `X-API-Key` header (what ORS clients send)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
        elif name == b"x-api-key" and value:
            return value.decode("latin-1").strip()
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
        keys, admin_keys = self.service.api_keys, self.service.admin_keys
        if is_admin_request(scope["method"], path):
            refusal = self._admin_refusal(_token(scope))
            if refusal is not None:
                await _reject(send, *refusal)
                self.service.metrics.requests.labels("auth", str(refusal[0])).inc()
                return
        elif (keys or admin_keys) and not path.startswith(OPEN_PATHS):
            token = _token(scope)
            if token is None or not _known(token, keys | admin_keys):
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


    def _admin_refusal(self, token: str | None) -> tuple[int, str] | None:
        """Admin keys are separate from scoring keys; without any, only a loopback server takes admin calls."""
        admin_keys = self.service.admin_keys
        if admin_keys:
            if token is not None and _known(token, admin_keys):
                return None
            if token is not None and _known(token, self.service.api_keys):
                return 403, "this is a scoring key; registering and retiring verifiers needs an admin key"
            return 401, "registering and retiring verifiers needs an admin key: send Authorization: Bearer <admin key>"
        if self.service.api_keys:
            return 403, "no admin keys are configured (REFEREE_ADMIN_KEYS): runtime registration is off"
        if not self.service.settings.loopback:
            return 403, ("runtime registration is refused on a non-loopback bind without auth: "
                         "set REFEREE_ADMIN_KEYS")
        return None


def _known(token: str, keys: frozenset[str]) -> bool:
    return any(hmac.compare_digest(token, k) for k in keys)


async def _reject(send: Send, status: int = 401,
                  detail: str = "missing or invalid API key: send Authorization: Bearer <key> (or X-API-Key: <key>)",
                  ) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json")] + ([(b"www-authenticate", b"Bearer")] if status == 401 else [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
