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
    api_keys: str = Field("", description="comma-separated bearer tokens; empty means no auth")
    api_keys_file: Path | None = Field(None, description="file with one bearer token per line")
    allow_no_auth: bool = Field(False, description="serve without keys on a non-loopback address")

    def keys(self) -> frozenset[str]:
        found = {k.strip() for k in self.api_keys.split(",") if k.strip()}
        if self.api_keys_file:
            lines = self.api_keys_file.read_text().splitlines()
            found |= {line.strip() for line in lines if line.strip() and not line.startswith("#")}
        return frozenset(found)

    def check_auth_config(self) -> None:
        """Refuse to expose the service beyond loopback without keys, unless told to."""
        if self.host not in LOOPBACK_HOSTS and not self.keys() and not self.allow_no_auth:
            raise SystemExit(
                f"refusing to serve on {self.host} without API keys: set REFEREE_API_KEYS or "
                "REFEREE_API_KEYS_FILE, or pass --allow-no-auth"
            )
