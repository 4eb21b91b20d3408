"""Live ORS sessions of one server process: a bound on their number, idle expiry, ownership.

A session is opened by `/create_session`, gets its episode from `/create`, and is closed by
`/delete` or `/delete_session`, or expires after `idle_s` without a request. Closing frees
everything it holds: its interpreter, its running tool calls. The id of a closed session is
remembered for a while (`Tombstones`) so a late request is told the session is gone (410), and
its final verdict can still be read back.

A session belongs to the API key that opened it; any other key is told it does not exist (404),
exactly as for an id that was never issued.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from server.ors.episodes import Episode
from server.ors.interpreters import InterpreterPool

log = logging.getLogger(__name__)
MAX_CALLS_REMEMBERED = 32  # finished tool calls kept per session for reconnection by task id
CALL_LINGER_S = 60.0


class SessionError(Exception):
    status = 400

    def __init__(self, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.headers = headers


class SessionNotFound(SessionError):
    status = 404


class SessionGone(SessionError):
    status = 410


class TooManySessions(SessionError):
    status = 429


def owner_of(key: str | None) -> str | None:
    return hashlib.sha256(key.encode()).hexdigest()[:32] if key else None


@dataclass
class Session:
    sid: str
    owner: str | None
    last_seen: float = field(default_factory=time.monotonic)
    episode: Episode | None = None
    calls: OrderedDict[str, tuple[asyncio.Future, float]] = field(default_factory=OrderedDict)
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)  # one tool call at a time changes the episode
    closed: bool = False  # set once closed: a request that fetched the session earlier must not revive it

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def remember_call(self, task_id: str, task: asyncio.Future) -> None:
        now = time.monotonic()
        self.calls[task_id] = (task, now)
        while len(self.calls) > MAX_CALLS_REMEMBERED:
            oldest_id, (oldest, _) = next(iter(self.calls.items()))
            if not oldest.done():
                break
            del self.calls[oldest_id]
        for old_id, (old, started) in list(self.calls.items()):
            if old.done() and now - started > CALL_LINGER_S:
                del self.calls[old_id]


@dataclass
class Tombstone:
    reason: str  # "deleted" or "expired"
    owner: str | None
    summary: dict[str, Any] | None


class Tombstones:
    """Closed session ids (bounded, oldest forgotten first), with their final episode summary."""

    def __init__(self, size: int = 10_000):
        self.size = size
        self._items: OrderedDict[str, Tombstone] = OrderedDict()

    def add(self, sid: str, tomb: Tombstone) -> None:
        self._items[sid] = tomb
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def get(self, sid: str) -> Tombstone | None:
        return self._items.get(sid)


class SessionStore:
    def __init__(self, max_sessions: int, idle_s: float, interpreters: InterpreterPool):
        self.max_sessions = max_sessions
        self.idle_s = idle_s
        self.interpreters = interpreters
        self.sessions: dict[str, Session] = {}
        self.tombstones = Tombstones()
        self.expired = 0
        self._reaper: asyncio.Task | None = None

    def __len__(self) -> int:
        return len(self.sessions)

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self, owner: str | None) -> Session:
        if len(self.sessions) >= self.max_sessions:
            raise TooManySessions(
                f"too many live sessions: {len(self.sessions)} of at most {self.max_sessions} on this server; "
                "delete finished sessions (POST /delete) or wait for idle ones to expire "
                f"({self.idle_s:g} s without a request)", headers={"Retry-After": "1"})
        session = Session(sid=str(uuid.uuid4()), owner=owner)
        self.sessions[session.sid] = session
        return session

    def get(self, sid: str | None, owner: str | None) -> Session:
        if not sid:
            raise SessionError("X-Session-ID header is required")
        session = self.sessions.get(sid)
        if session is None or session.owner != owner:
            tomb = self.tombstones.get(sid)
            if tomb is not None and tomb.owner == owner:
                raise SessionGone(f"session {sid} was {tomb.reason}")
            raise SessionNotFound(f"session {sid} not found")
        session.touch()
        return session

    async def close(self, sid: str, reason: str = "deleted") -> Session | None:
        session = self.sessions.pop(sid, None)
        if session is None:
            return None
        session.closed = True
        summary = session.episode.summary() if session.episode is not None else None
        self.tombstones.add(sid, Tombstone(reason=reason, owner=session.owner, summary=summary))
        for task, _ in session.calls.values():
            task.cancel()
        await self.interpreters.release(sid)
        return session

    async def expire_idle(self) -> int:
        cutoff = time.monotonic() - self.idle_s
        stale = [sid for sid, s in self.sessions.items() if s.last_seen < cutoff and not s.busy.locked()]
        for sid in stale:
            await self.close(sid, reason="expired")
        self.expired += len(stale)
        return len(stale)

    # -- the reaper ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever())

    async def _reap_forever(self) -> None:
        interval = max(0.05, min(5.0, self.idle_s / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.expire_idle()
            except Exception:  # never let one bad close stop expiry for everyone
                log.exception("ORS session expiry failed")

    async def close_all(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        for sid in list(self.sessions):
            await self.close(sid, reason="closed by shutdown")
        await self.interpreters.close()
