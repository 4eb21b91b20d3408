"""Where runtime registrations persist, so they survive restarts: a local JSON file (one host),
or a key in Redis (a scale-out deployment: every API replica and worker host reads it).

A record is plain JSON: {"spec": {...pinned registration...}, "source_hash", "admission": {...},
"registered_at": unix seconds, "retired": null | {"at": unix seconds, "reason": str}}.
Every process of a host (the server and its workers) reads the same file; writers take a lock
and replace the file atomically, so a reader never sees half a write.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

STORE_ENV_VAR = "REFEREE_VERIFIER_STORE"


class RegistrationStore(Protocol):
    @property
    def location(self) -> str:
        """Where it lives, as `open_store` takes it (worker processes are told this string)."""

    def load(self) -> list[dict[str, Any]]:
        """Every record, in registration order."""

    def update(self, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """Apply `change` to the records atomically (no other writer in between); returns the result."""


def default_store_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "referee" / "verifiers.json"


class FileStore:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"FileStore({str(self.path)!r})"

    @property
    def location(self) -> str:
        return str(self.path)

    def load(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        records = data.get("registrations") if isinstance(data, dict) else None
        if not isinstance(records, list):
            raise ValueError(f"{self.path} is not a registration store")
        return records

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(self.path.suffix + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def update(self, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        with self._locked():
            records = change(self.load())
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".verifiers-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"registrations": records}, fh, indent=1)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
            return records


class RedisStore:
    """The records as one JSON value in Redis (`{prefix}:verifiers`): every API replica and worker
    host of a scale-out deployment reads the same registrations. Writes are optimistic
    transactions (WATCH / MULTI), retried when another writer got in between."""

    def __init__(self, url: str, prefix: str = "referee") -> None:
        import redis

        self.url, self.prefix = url, prefix
        self.key = f"{prefix}:verifiers"
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)

    def __repr__(self) -> str:
        return f"RedisStore({self.location!r})"

    @property
    def location(self) -> str:
        return f"{self.url}#{self.prefix}"

    @staticmethod
    def _records(raw: bytes | None) -> list[dict[str, Any]]:
        if raw is None:
            return []
        records = json.loads(raw).get("registrations")
        if not isinstance(records, list):
            raise ValueError("the Redis key holds no registration store")
        return records

    def load(self) -> list[dict[str, Any]]:
        return self._records(self.client.get(self.key))

    def update(self, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        import redis

        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self.key)
                    records = change(self._records(pipe.get(self.key)))
                    pipe.multi()
                    pipe.set(self.key, json.dumps({"registrations": records}))
                    pipe.execute()
                    return records
                except redis.WatchError:
                    continue


def open_store(location: str) -> FileStore | RedisStore:
    """A store from where it lives: a file path, or `redis://HOST:PORT/DB#PREFIX` (what worker
    processes are told, as a string)."""
    if location.startswith(("redis://", "rediss://", "unix://")):
        url, _, prefix = location.partition("#")
        return RedisStore(url, prefix or "referee")
    return FileStore(location)
