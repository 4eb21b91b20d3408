"""Named judge configurations: where a judge server is and how hard Referee may lean on it.

Judges are configured on the server side, never in scoring requests, so that API keys stay out
of trainer code and request logs. Two sources, the environment winning over the file:

- `REFEREE_JUDGES=/path/judges.toml` (or `.json`): one table per judge under `judges`:

      [judges.default]
      base_url = "http://127.0.0.1:8000/v1"
      model = "Qwen/Qwen2.5-7B-Instruct"
      api_key_env = "JUDGE_API_KEY"      # the *name* of the variable holding the key

- `REFEREE_JUDGE_<NAME>_<FIELD>` variables, e.g. `REFEREE_JUDGE_DEFAULT_BASE_URL`,
  `REFEREE_JUDGE_DEFAULT_MODEL`, `REFEREE_JUDGE_DEFAULT_MAX_CONCURRENCY=16`.
  Judge names are lower-cased; dict fields (`headers`, `extra_body`) take JSON.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from verifiers.validation import first_error

JUDGES_FILE_ENV = "REFEREE_JUDGES"
JUDGE_ENV_PREFIX = "REFEREE_JUDGE_"

JsonMode = Literal["auto", "json_schema", "json_object", "off"]


class JudgeConfigError(ValueError):
    """The judge configuration (file or environment) is unusable."""


class JudgeConfig(BaseModel):
    """One judge: an OpenAI-compatible chat-completions server plus the limits to use it with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    base_url: str = Field(description="server root including the API prefix, e.g. http://host:8000/v1")
    model: str
    api_key_env: str | None = Field(None, description="name of the environment variable that holds the API key")
    max_concurrency: int = Field(8, ge=1, le=4096, description="requests in flight to this judge at once")
    requests_per_second: float | None = Field(None, gt=0, description="token-bucket rate; None = unlimited")
    burst: int | None = Field(None, ge=1, description="token-bucket size; default: one second's worth")
    timeout_s: float = Field(60.0, gt=0, description="one HTTP attempt, capped by the item's deadline")
    connect_timeout_s: float = Field(5.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20, description="retries after the first attempt on 429/5xx/timeouts")
    backoff_initial_s: float = Field(0.5, ge=0)
    backoff_max_s: float = Field(20.0, ge=0)
    json_mode: JsonMode = Field("auto", description="auto: json_schema, falling back to json_object, then plain text")
    temperature: float = Field(0.0, ge=0, le=2, description="for single-sample judging")
    sampling_temperature: float = Field(0.7, ge=0, le=2, description="for k-sample voting")
    max_tokens: int = Field(512, ge=1)
    seed: int | None = Field(0, description="base seed; sample i sends seed+i. None: send no seed")
    circuit_failures: int = Field(5, ge=1, description="consecutive failed attempts that open the circuit")
    circuit_reset_s: float = Field(30.0, gt=0, description="how long an open circuit fails fast before a probe")
    cache_size: int = Field(4096, ge=0, description="LRU entries of judge replies; 0 disables")
    headers: dict[str, str] = Field(default_factory=dict, description="extra non-secret headers")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="extra request fields, e.g. top_k")

    @field_validator("api_key_env", "requests_per_second", "burst", "seed", mode="before")
    @classmethod
    def _none_word(cls, value: Any) -> Any:
        """`none` (a TOML file or a variable cannot say null) switches an optional setting off."""
        return None if isinstance(value, str) and value.strip().lower() in ("", "none", "null") else value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "-_." for c in value):
            raise ValueError("judge names use letters, digits, '-', '_' and '.'")
        return value.lower()

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The key, read at use time from the variable the config names."""
        if self.api_key_env is None:
            return None
        environ = os.environ if environ is None else environ
        key = environ.get(self.api_key_env)
        if not key:
            raise JudgeConfigError(f"judge {self.name!r}: environment variable {self.api_key_env} is not set")
        return key


_FIELDS_BY_ENV_SUFFIX = {
    "_" + field.upper(): field for field in JudgeConfig.model_fields if field != "name"
}
_JSON_FIELDS = {"headers", "extra_body"}


def _read_file(path: Path) -> dict[str, dict[str, Any]]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise JudgeConfigError(f"{JUDGES_FILE_ENV}: cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise JudgeConfigError(f"{JUDGES_FILE_ENV}: {path} does not parse: {exc}") from None
    judges = data.get("judges") if isinstance(data, dict) else None
    if not isinstance(judges, dict) or not all(isinstance(v, dict) for v in judges.values()):
        raise JudgeConfigError(f"{JUDGES_FILE_ENV}: {path} needs a 'judges' table with one table per judge")
    return {name.lower(): dict(fields) for name, fields in judges.items()}


def _read_env(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """REFEREE_JUDGE_<NAME>_<FIELD>; the longest matching field suffix wins (names may hold '_')."""
    found: dict[str, dict[str, Any]] = {}
    for var, value in environ.items():
        if not var.startswith(JUDGE_ENV_PREFIX):
            continue
        rest = var[len(JUDGE_ENV_PREFIX):]
        suffix = max((s for s in _FIELDS_BY_ENV_SUFFIX if rest.endswith(s) and len(rest) > len(s)),
                     key=len, default=None)
        if suffix is None:
            continue
        field = _FIELDS_BY_ENV_SUFFIX[suffix]
        if field in _JSON_FIELDS:
            try:
                parsed: Any = json.loads(value)
            except json.JSONDecodeError:
                raise JudgeConfigError(f"{var} must be a JSON object") from None
        else:
            parsed = value
        found.setdefault(rest[: -len(suffix)].lower(), {})[field] = parsed
    return found


def load_judge_configs(environ: Mapping[str, str] | None = None) -> dict[str, JudgeConfig]:
    """All configured judges by name; raises JudgeConfigError with a readable reason."""
    environ = os.environ if environ is None else environ
    merged: dict[str, dict[str, Any]] = {}
    if path := environ.get(JUDGES_FILE_ENV):
        merged = _read_file(Path(path))
    for name, fields in _read_env(environ).items():
        merged.setdefault(name, {}).update(fields)
    configs: dict[str, JudgeConfig] = {}
    for name, fields in merged.items():
        try:
            configs[name] = JudgeConfig(name=name, **fields)
        except ValidationError as exc:
            raise JudgeConfigError(f"judge {name!r}: {first_error(exc, 'config')}") from None
    return configs


def config_signature(environ: Mapping[str, str] | None = None) -> tuple[Any, ...]:
    """Cheap fingerprint of every input to `load_judge_configs`, to notice edits without a restart."""
    environ = os.environ if environ is None else environ
    path = environ.get(JUDGES_FILE_ENV)
    stamp: Any = None
    if path:
        try:
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = "missing"
    env = tuple(sorted((k, v) for k, v in environ.items() if k.startswith(JUDGE_ENV_PREFIX)))
    return (path, stamp, env)
