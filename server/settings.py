"""Service settings: defaults, overridden by REFEREE_* environment variables, then by CLI flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFEREE_", extra="ignore", env_ignore_empty=True)

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int | None = Field(None, description="verifier worker processes (default: one per core)")
    worker_memory_mb: int = Field(4096, description="address-space limit of each worker process")
    default_timeout_s: float = Field(10.0, description="per-item deadline when a request names none")
    max_timeout_s: float = 300.0
    max_items_per_request: int = 16_384
    max_body_bytes: int = 64 * 2**20
    max_completion_chars: int = 1_000_000
    max_pending_items: int = Field(
        65_536, ge=1, description="items queued or running at once (all requests); past it, 429 with Retry-After")
    cache_entries: int = 200_000
    # Scale-out (all optional: without a Redis URL the service runs embedded, as one process).
    redis_url: str | None = Field(None, description="Redis URL of the shared task queue and cache (scale-out)")
    redis_prefix: str = Field("referee", description="prefix of every Referee key in Redis")
    queue_timeout_s: float = Field(60.0, gt=0, description="how long a task may wait for a worker before it is "
                                                          "answered `timeout` (never started)")
    redis_visibility_s: float = Field(30.0, gt=0, description="seconds after which a silent worker's tasks are "
                                                              "taken over by another worker")
    redis_max_attempts: int = Field(3, ge=1, description="workers a task may kill before it is answered `error`")
    cache_ttl_s: int = Field(24 * 3600, ge=0, description="lifetime of a verdict in the Redis result cache "
                                                         "(0: no cache)")
    api_keys: str = Field("", description="comma-separated bearer tokens; empty means no auth")
    api_keys_file: Path | None = Field(None, description="file with one bearer token per line")
    allow_no_auth: bool = Field(False, description="serve without keys on a non-loopback address")
    admin_keys: str = Field("", description="comma-separated bearer tokens for registering and retiring verifiers")
    admin_keys_file: Path | None = Field(None, description="file with one admin token per line")
    verifier_store: Path | None = Field(None, description="file holding runtime-registered verifiers "
                                                          "(default: ~/.local/share/referee/verifiers.json)")
    admission_timeout_s: float = Field(120.0, gt=0, description="the most one verifier registration may take")
    # Multi-turn sessions over the Open Reward Standard (/v1/ors)
    ors_config: Path | None = Field(None, description="TOML file of ORS environment options and task files")
    ors_task_files: str = Field("", description="task files served as ORS environments: NAME=PATH[,NAME=PATH]")
    ors_session_idle_s: float = Field(900.0, gt=0, description="an ORS session expires after this long without a request")
    ors_max_sessions: int = Field(4096, ge=1, description="live ORS sessions per server process; more get HTTP 429")
    ors_max_interpreters: int = Field(64, ge=1, description="live run_python interpreters per server process")
    ors_python_wall_s: float = Field(10.0, gt=0, le=300, description="wall-clock limit of one run_python call")
    ors_ping_interval_s: float = Field(10.0, gt=0, description="SSE keep-alive comment interval during tool calls")

    def keys(self) -> frozenset[str]:
        return _read_keys(self.api_keys, self.api_keys_file)

    def admin_key_set(self) -> frozenset[str]:
        return _read_keys(self.admin_keys, self.admin_keys_file)

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS

    def check_auth_config(self) -> None:
        """Refuse to expose the service beyond loopback without keys, unless told to."""
        if self.host not in LOOPBACK_HOSTS and not self.keys() and not self.allow_no_auth:
            raise SystemExit(
                f"refusing to serve on {self.host} without API keys: set REFEREE_API_KEYS or "
                "REFEREE_API_KEYS_FILE, or pass --allow-no-auth"
            )


def _read_keys(listed: str, path: Path | None) -> frozenset[str]:
    found = {k.strip() for k in listed.split(",") if k.strip()}
    if path:
        lines = path.read_text().splitlines()
        found |= {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    return frozenset(found)
