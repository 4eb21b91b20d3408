"""What the ORS endpoint holds in one server process: environments, sessions, interpreters."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge

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
    tool_calls: Counter | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings, registry: Registry, scorer: Scorer) -> OrsService:  # settings: server.settings.Settings
        config = load_config(settings.ors_config, settings.ors_task_files)
        limits = INTERPRETER_LIMITS.model_copy(update={"wall_time_s": settings.ors_python_wall_s})
        interpreters = InterpreterPool(settings.ors_max_interpreters, limits)
        store = SessionStore(settings.ors_max_sessions, settings.ors_session_idle_s, interpreters)
        return cls(catalog=Catalog.build(config, registry), store=store, interpreters=interpreters, scorer=scorer,
                   ping_interval_s=settings.ors_ping_interval_s, max_body_bytes=settings.max_body_bytes)

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """ORS figures on the service's /metrics."""
        Gauge("referee_ors_sessions", "live ORS sessions in this API process",
              registry=registry).set_function(lambda: len(self.store))
        Gauge("referee_ors_interpreters", "live run_python interpreters in this API process",
              registry=registry).set_function(lambda: len(self.interpreters))
        Gauge("referee_ors_sessions_expired", "ORS sessions closed for idleness since start",
              registry=registry).set_function(lambda: self.store.expired)
        self.tool_calls = Counter("referee_ors_tool_calls", "ORS tool calls by tool and outcome",
                                  ["tool", "outcome"], registry=registry)

    def count_call(self, tool: str, outcome: str) -> None:
        if self.tool_calls is not None:
            self.tool_calls.labels(tool if tool in ("submit", "run_python") else "other", outcome).inc()

    def start(self) -> None:
        self.store.start()

    async def close(self) -> None:
        await self.store.close_all()
