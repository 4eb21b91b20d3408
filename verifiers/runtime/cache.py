"""Result cache: verdicts keyed by the identity of the work (verifier@version, params, reference, answer)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from verifiers.contract import Status, Verdict

# Only final judgements are cached; timeouts and errors may pass on a retry.
CACHEABLE = frozenset({Status.ok, Status.wrong_format})


class ResultCache(Protocol):
    async def get_many(self, keys: list[str]) -> dict[str, Verdict]: ...

    async def put_many(self, entries: dict[str, Verdict]) -> None: ...


class MemoryLRUCache:
    """An in-process LRU of verdicts, bounded by entry count."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Verdict] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get_many(self, keys: list[str]) -> dict[str, Verdict]:
        found: dict[str, Verdict] = {}
        for key in keys:
            verdict = self._entries.get(key)
            if verdict is not None:
                self._entries.move_to_end(key)
                found[key] = verdict
        return found

    async def put_many(self, entries: dict[str, Verdict]) -> None:
        if self.max_entries <= 0:
            return
        for key, verdict in entries.items():
            if verdict.status in CACHEABLE:
                self._entries[key] = verdict
                self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
