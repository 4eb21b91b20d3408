"""`Task`: one unit of verification work as plain data, able to cross a pipe or Redis unchanged.

A task carries everything a worker needs and nothing live: the pinned verifier (`name@version`),
the fingerprint of the registry that checked it, params and the checked reference as JSON, the
completion text, the group key and a time budget. The budget is relative seconds (`timeout_s`),
never a timestamp, because clocks differ across hosts; a worker's deadline starts when it picks
the task up.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

GroupKey = str | int | None
KINDS = ("verify", "vote")


@dataclass(slots=True)
class Task:
    spec: str  # pinned verifier, `name@version`
    fingerprint: str  # of the registry the task was checked against; a worker must hold the same
    text: str  # the completion text to score
    reference: Any  # as returned by the verifier's `check_reference`: plain JSON
    params: dict[str, Any]  # as sent (validated), plain JSON
    timeout_s: float  # time budget once a worker starts it
    group: GroupKey = None
    config: str = ""  # server-side configuration the verdict depends on (judge/GRM settings)
    kind: str = "verify"  # "verify": score `text`; "vote": find the majority answer of the texts in `reference`

    @property
    def key(self) -> str:
        """Identity of the work: same key, same verdict (dedup within a batch, the result cache).

        It covers everything that can change a verdict: the pinned verifier, params, reference,
        completion and the server-side configuration. Not the registry fingerprint (registering
        another verifier must not empty the cache), nor the budget or group (they change whether
        a verdict is reached, not which; timeouts are never cached).
        """
        payload = orjson.dumps([self.kind, self.spec, self.params, self.reference, self.text, self.config],
                               option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
        return hashlib.blake2b(payload, digest_size=20).hexdigest()

    def to_plain(self) -> dict[str, Any]:
        return {"spec": self.spec, "fingerprint": self.fingerprint, "text": self.text,
                "reference": self.reference, "params": self.params, "timeout_s": self.timeout_s,
                "group": self.group, "config": self.config, "kind": self.kind}

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> Task:
        try:
            task = cls(spec=data["spec"], fingerprint=data["fingerprint"], text=data["text"],
                       reference=data.get("reference"), params=data.get("params") or {},
                       timeout_s=float(data["timeout_s"]), group=data.get("group"),
                       config=data.get("config") or "", kind=data.get("kind") or "verify")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a task: {exc!r}") from None
        if not isinstance(task.spec, str) or not isinstance(task.text, str) or not isinstance(task.params, dict):
            raise ValueError("not a task: spec and text must be strings, params an object")
        if task.kind not in KINDS:
            raise ValueError(f"not a task: unknown kind {task.kind!r}")
        return task

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_plain())

    @classmethod
    def from_json(cls, data: bytes | str) -> Task:
        try:
            plain = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not a task: {exc}") from None
        if not isinstance(plain, dict):
            raise ValueError("not a task: expected a JSON object")
        return cls.from_plain(plain)
