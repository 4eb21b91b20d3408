"""`//ping` -> `/ping`: the `openreward` client builds its keep-alive URL as BASE + "/ping", and
its base URL must end in "/"; collapsing repeated slashes lets that request reach its route."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

_SLASHES = re.compile(r"//+")


class CollapseSlashes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = dict(scope, path=_SLASHES.sub("/", scope["path"]))
            scope.pop("raw_path", None)
        await self.app(scope, receive, send)
