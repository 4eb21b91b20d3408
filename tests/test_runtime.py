"""The worker pool and batch scorer from Python: deadlines by process, same verdicts from any caller."""

from __future__ import annotations

import asyncio
import threading

import pytest

from verifiers import Status
from verifiers.runtime import LocalScorer, verify_batch
from verifiers.runtime.cache import MemoryLRUCache
from verifiers.contract import Verdict


ITEMS = [{"id": i, "verifier": "numeric", "completion": f"{i} apples", "reference": "7"} for i in range(40)]


@pytest.fixture(scope="module")
def scorer(demo_plugin):
    with LocalScorer(workers=2, timeout_s=5) as s:
        yield s


def test_batch_matches_single_calls(scorer):
    import verifiers

    batch = scorer.score(ITEMS)
    single = [verifiers.verify(i["verifier"], i["completion"], i["reference"]) for i in ITEMS]
    assert [(b.reward, b.status) for b in batch] == [(s.reward, s.status) for s in single]
    assert [b.id for b in batch] == list(range(40))


def test_same_verdicts_from_threads_and_asyncio(scorer):
    expected = [v.reward for v in scorer.score(ITEMS)]
    results: list[list[float]] = []

    def worker():
        results.append([v.reward for v in scorer.score(ITEMS)])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def from_asyncio():
        return await asyncio.to_thread(scorer.score, ITEMS)

    results.append([v.reward for v in asyncio.run(from_asyncio())])
    assert results == [expected] * 5


def test_overruns_are_cut_off_and_the_rest_scored(scorer):
    items = [{"verifier": "demo:loop", "completion": "x"}] + ITEMS[:10] + [{"verifier": "demo:sleep", "completion": "y"}]
    verdicts = scorer.score(items, timeout_s=0.5)
    assert verdicts[0].status == Status.timeout and verdicts[-1].status == Status.timeout
    assert "deadline of 0.5s" in verdicts[0].message
    assert [v.status for v in verdicts[1:-1]] == [Status.ok] * 10
    assert verdicts[8].reward == 1.0  # "7 apples"


def test_crash_in_a_big_chunk_blames_only_the_culprit(scorer):
    items = [{"id": i, "verifier": "exact", "completion": f"w{i}", "reference": "w3"} for i in range(300)]
    items.insert(150, {"id": "boom", "verifier": "demo:exit", "completion": "x"})
    verdicts = scorer.score(items)
    by_id = {v.id: v for v in verdicts}
    assert by_id["boom"].status == Status.error
    assert all(by_id[i].status == Status.ok for i in range(300))
    assert by_id[3].reward == 1.0 and sum(v.reward for v in verdicts) == 1.0


def test_verify_batch_convenience():
    verdicts = verify_batch([{"verifier": "exact", "completion": "a", "reference": "a"}], workers=1)
    assert verdicts[0].reward == 1.0


def test_lru_cache_evicts_and_skips_transient_statuses():
    cache = MemoryLRUCache(max_entries=2)

    async def run():
        await cache.put_many({"a": Verdict.scored(1), "b": Verdict.scored(0),
                              "t": Verdict.failed(Status.timeout, "slow")})
        await cache.put_many({"c": Verdict.scored(1)})
        return await cache.get_many(["a", "b", "c", "t"])

    assert set(asyncio.run(run())) == {"b", "c"}
