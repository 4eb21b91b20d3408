"""`Scorer`: a batch of items in, one verdict per item out, same order.

    items -> admission -> group votes (reference_from_group) -> prepare (Task or invalid_input)
          -> dedup by key -> result cache -> plan: sync tasks to the executor, async tasks
          (judge, grm) on this event loop, composites with async parts split into their parts
          -> combine -> verdicts in the items' order

Long batches are handled in slices that hand the event loop back (`pacing`), so one 16,384-item
request never stalls other requests or `/healthz`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from verifiers.base import Verifier
from verifiers.contract import Item, Status, Verdict, completion_text
from verifiers.registry import Registry, UnknownVerifierError
from verifiers.runtime.cache import ResultCache
from verifiers.runtime.executor import Executor
from verifiers.runtime.finalize import finalize
from verifiers.runtime.pacing import Pacer
from verifiers.runtime.prepare import prepare
from verifiers.runtime.task import Task
from verifiers.runtime.worker import arun_task

MAJORITY = "majority"


def _locality_key(task: Task) -> tuple[str, str]:
    # Tasks sharing a reference run back to back in one worker, so its parsed-reference caches hit.
    ref = task.reference
    return task.spec, ref if isinstance(ref, str) else orjson.dumps(ref, default=str).decode()


@dataclass
class _Split:
    """A composite whose parts run apart: part verdicts come from `part_keys` or are fixed."""

    task: Task
    calls: list[Any]  # per part: a task key (str) or a Verdict decided up front


@dataclass
class _Vote:
    indexes: list[int]
    task: Task | None = None
    verdict: Verdict | None = None


class Scorer:
    """Turns a list of items into a list of verdicts, the same length and order.

    Identical work (same key) is done once per batch and, through the cache, once across
    batches. CPU-bound verifiers go to the executor; async ones run on this event loop.
    """

    def __init__(
        self,
        registry: Registry,
        executor: Executor,
        cache: ResultCache | None = None,
        *,
        default_timeout_s: float = 10.0,
        max_completion_chars: int | None = None,
    ) -> None:
        self.registry = registry
        self.executor = executor
        self.cache = cache
        self.default_timeout_s = default_timeout_s
        self.max_completion_chars = max_completion_chars

    async def score(self, items: Sequence[Item], timeout_s: float | None = None,
                    *, owner: Hashable | None = None) -> list[Verdict]:
        """Raises `Overloaded` (before any work) when the executor cannot take this batch now."""
        self.executor.admit(len(items))
        owner = owner if owner is not None else object()
        timeout_s = timeout_s or self.default_timeout_s
        verdicts: list[Verdict | None] = [None] * len(items)
        items, votes = await self._group_references(items, verdicts, timeout_s, owner)
        positions: dict[str, list[int]] = {}
        tasks: dict[str, Task] = {}
        pacer = Pacer()
        for index, item in enumerate(items):
            if verdicts[index] is not None:
                continue
            prepared = prepare(item, self.registry, timeout_s, self.max_completion_chars)
            if isinstance(prepared, Verdict):
                verdicts[index] = prepared
            else:
                key = prepared.key
                positions.setdefault(key, []).append(index)
                tasks.setdefault(key, prepared)
            await pacer.tick()

        hits = await self.cache.get_many(list(tasks)) if self.cache is not None else {}
        todo = {key: task for key, task in tasks.items() if key not in hits}
        fresh = await self._run(todo, owner, timeout_s)
        if self.cache is not None and fresh:
            await self.cache.put_many(fresh)

        for key, indexes in positions.items():
            cached = key in hits
            result = hits[key] if cached else fresh[key]
            if not cached and len(indexes) == 1:  # the common case: this verdict is ours alone
                result.id = items[indexes[0]].id
                verdicts[indexes[0]] = result
            else:
                for index in indexes:
                    verdicts[index] = result.model_copy(update={"id": items[index].id, "cached": cached})
            await pacer.tick()
        for vote in votes:
            if vote.verdict is not None and vote.verdict.status is Status.ok:
                for index in vote.indexes:
                    verdict = verdicts[index]
                    assert verdict is not None
                    verdicts[index] = verdict.model_copy(
                        update={"details": verdict.details | {"majority": vote.verdict.details}})
        return verdicts  # type: ignore[return-value]

    # -- references from a group vote -----------------------------------------------------------

    async def _group_references(self, items: Sequence[Item], verdicts: list[Verdict | None], timeout_s: float,
                                owner: Hashable) -> tuple[Sequence[Item], list[_Vote]]:
        """Items with `params.reference_from_group: "majority"` get their group's majority answer
        as reference (one vote task per group, run in the workers); the others are unchanged."""
        votes: dict[tuple[str, str, bytes], _Vote] = {}
        texts: dict[tuple[str, str, bytes], list[str]] = {}
        pacer = Pacer()
        for index, item in enumerate(items):
            await pacer.tick()
            wanted = item.params.get("reference_from_group") if item.params else None
            if wanted is None:
                continue
            problem, spec = self._vote_problem(item, wanted)
            if problem is not None:
                verdicts[index] = _invalid(item, problem, spec)
                continue
            try:
                text = completion_text(item.completion)
            except ValueError:
                continue  # `prepare` reports it
            key = (str(item.group), spec or "", orjson.dumps(item.params, option=orjson.OPT_SORT_KEYS))
            votes.setdefault(key, _Vote([])).indexes.append(index)
            texts.setdefault(key, []).append(text)
        if not votes:
            return items, []
        for key, vote in votes.items():
            first = items[vote.indexes[0]]
            vote.task = Task(spec=key[1], fingerprint=self.registry.fingerprint, text="", reference=texts[key],
                             params=first.params, timeout_s=timeout_s, group=first.group, kind="vote")
        results = await self.executor.run([v.task for v in votes.values() if v.task], owner=owner)
        substituted = list(items)
        for vote, result in zip(votes.values(), results):
            vote.verdict = result
            for index in vote.indexes:
                if result.status is Status.ok:
                    substituted[index] = items[index].model_copy(update={"reference": result.details["answer"]})
                else:
                    verdicts[index] = result.model_copy(update={
                        "id": items[index].id, "message": f"majority vote of group {items[index].group!r}: "
                                                          f"{result.message}"})
        return substituted, list(votes.values())

    def _vote_problem(self, item: Item, wanted: Any) -> tuple[str | None, str | None]:
        try:
            verifier = self.registry.resolve(item.verifier)
        except UnknownVerifierError as exc:
            return str(exc), None
        if wanted != MAJORITY:
            return None, verifier.spec  # the params model reports the bad value
        if not verifier.can_vote:
            return f"{verifier.spec} cannot take its reference from a group vote", verifier.spec
        if item.group is None:
            return "reference_from_group needs the item's `group` (the rollouts of one prompt)", verifier.spec
        if item.reference is not None:
            return "reference_from_group needs `reference: null` (the group's vote is the reference)", verifier.spec
        return None, verifier.spec

    # -- running the tasks -----------------------------------------------------------------------

    async def _run(self, tasks: dict[str, Task], owner: Hashable, timeout_s: float) -> dict[str, Verdict]:
        sync: dict[str, Task] = {}
        asyn: dict[str, Task] = {}
        splits: dict[str, _Split] = {}
        pacer = Pacer()
        for key, task in tasks.items():
            await pacer.tick()
            verifier = self.registry.resolve(task.spec)
            split = self._split(verifier, task)
            if split is not None:
                splits[key] = split
                for call in split.calls:
                    if isinstance(call, tuple):
                        part_key, part_task = call
                        (asyn if self.registry.resolve(part_task.spec).is_async else sync)[part_key] = part_task
            else:
                (asyn if verifier.is_async else sync)[key] = task
        locality = {}
        for key, task in sync.items():
            locality[key] = _locality_key(task)
            await pacer.tick()
        sync_keys = sorted(sync, key=locality.__getitem__)
        async_keys = list(asyn)
        sync_run = self.executor.run([sync[k] for k in sync_keys], owner=owner) if sync_keys else _none()
        async_run = asyncio.gather(*(arun_task(asyn[k], self.registry) for k in async_keys))
        sync_verdicts, async_verdicts = await asyncio.gather(sync_run, async_run)
        done = dict(zip(sync_keys, sync_verdicts)) | dict(zip(async_keys, async_verdicts))
        for key, split in splits.items():
            done[key] = self._combine(split, done)
        return {key: done[key] for key in tasks}

    def _split(self, verifier: Any, task: Task) -> _Split | None:
        """A composite with async parts: each part becomes a task of its own (or a fixed verdict)."""
        if type(verifier).split is Verifier.split:  # the common case: not made of parts
            return None
        params = verifier.parse_params(task.params)
        calls = verifier.split(task.reference, params, self.registry)
        if calls is None:
            return None
        planned: list[Any] = []
        for call in calls:
            if isinstance(call, Verdict):
                planned.append(finalize(call, call.verifier, 0.0))
                continue
            part = Task(spec=call.verifier.spec, fingerprint=task.fingerprint, text=task.text,
                        reference=call.reference, params=call.raw_params, timeout_s=task.timeout_s,
                        group=task.group, config=call.verifier.config_key(call.params))
            planned.append((part.key, part))
        return _Split(task, planned)

    def _combine(self, split: _Split, done: dict[str, Verdict]) -> Verdict:
        verifier = self.registry.resolve(split.task.spec)
        parts = [c if isinstance(c, Verdict) else done[c[0]] for c in split.calls]
        try:
            result: object = verifier.combine(verifier.parse_params(split.task.params), parts)
        except Exception as exc:
            result = Verdict.failed(Status.error, f"{verifier.spec} could not combine its parts: {exc}")
        return finalize(result, verifier.spec, max((p.elapsed_ms for p in parts), default=0.0))


def _invalid(item: Item, message: str, spec: str | None) -> Verdict:
    verdict = finalize(Verdict.failed(Status.invalid_input, message), spec, 0.0)
    verdict.id = item.id
    return verdict


async def _none() -> list[Any]:
    return []
