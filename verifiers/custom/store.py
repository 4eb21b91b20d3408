"""Where runtime registrations persist: a local JSON file (one host), so they survive restarts.

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
