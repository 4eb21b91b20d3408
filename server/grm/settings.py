"""GRM service settings: defaults, overridden by REFEREE_GRM_* environment variables, then CLI flags."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class GRMSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFEREE_GRM_", extra="ignore", protected_namespaces=())

    model: str = Field("", description="HF model directory, or a .gguf file (dequantised on load)")
    device: str = Field("auto", description="auto (CUDA when present, else CPU), cpu, cuda, cuda:N")
    dtype: str = Field("auto", description="auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16, float16")
    threads: int | None = Field(None, ge=1, description="CPU threads for torch (default: torch's choice)")
    host: str = "127.0.0.1"
    port: int = 8100
    max_batch: int = Field(8, ge=1, description="items generated together in one batch")
    max_wait_ms: float = Field(20.0, ge=0, description="how long a batch waits for more items once one arrived")
    max_queue: int = Field(1024, ge=1, description="items waiting at most; beyond that requests get 503")
    max_items_per_request: int = Field(256, ge=1)
    max_body_bytes: int = Field(32 * 2**20, ge=1024, description="largest request body accepted")
    max_input_chars: int = Field(64_000, ge=1, description="prompt + response + reference + principles, per item")
    max_input_tokens: int = Field(4096, ge=1, description="grading prompt length after the chat template")
    max_new_tokens: int = Field(512, ge=1, description="upper limit of the critique length a request may ask for")
    default_new_tokens: int = Field(256, ge=1, description="critique length when a request names none")
    max_samples: int = Field(16, ge=1, description="most critiques a request may sample per item")
    fallback_token_budget: int = Field(32_768, ge=256,
                                       description="tokens per forward pass of the expected-value fallback")
    api_keys: str = Field("", description="comma-separated bearer tokens; empty means no auth")
    allow_no_auth: bool = Field(False, description="serve without keys on a non-loopback address")

    def keys(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    def check_auth_config(self) -> None:
        """Refuse to expose a model server beyond loopback without keys, unless told to."""
        if self.host not in LOOPBACK_HOSTS and not self.keys() and not self.allow_no_auth:
            raise SystemExit(
                f"refusing to serve on {self.host} without API keys: set REFEREE_GRM_API_KEYS "
                "or pass --allow-no-auth"
            )
