"""What the ORS endpoint holds in one server process: environments, sessions, interpreters."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.interpreter import INTERPRETER_LIMITS
from server.ors.catalog import Catalog
from server.ors.config import load_config
from server.ors.interpreters import InterpreterPool
from server.ors.sessions import SessionStore
from verifiers.registry import Registry
from verifiers.runtime import Scorer


@dataclass
class OrsService:
    catalog: Catalog
    store: SessionStore
    interpreters: InterpreterPool
    scorer: Scorer
    ping_interval_s: float = 10.0
    max_body_bytes: int = 64 << 20
    created: int = 0  # episodes created since start

    @classmethod
    def from_settings(cls, settings, registry: Registry, scorer: Scorer) -> OrsService:  # settings: server.settings.Settings
        config = load_config(settings.ors_config, settings.ors_task_files)
        limits = INTERPRETER_LIMITS.model_copy(update={"wall_time_s": settings.ors_python_wall_s})
        interpreters = InterpreterPool(settings.ors_max_interpreters, limits)
        store = SessionStore(settings.ors_max_sessions, settings.ors_session_idle_s, interpreters)
        return cls(catalog=Catalog.build(config, registry), store=store, interpreters=interpreters, scorer=scorer,
                   ping_interval_s=settings.ors_ping_interval_s, max_body_bytes=settings.max_body_bytes)

    def start(self) -> None:
        self.store.start()

    async def close(self) -> None:
        await self.store.close_all()
