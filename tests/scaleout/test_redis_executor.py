"""The Redis executor and worker in one process, against a real `redis-server` on a free port.

The API side (`RedisExecutor` under a `Scorer`) and the worker side (`RedisWorker` with a real
process pool) talk only through Redis, exactly as they do across hosts.
"""

from __future__ import annotations

import asyncio
import functools
import time
from contextlib import asynccontextmanager

import orjson
import pytest

from verifiers.contract import Item, Status
from verifiers.registry import default_registry
from verifiers.runtime import Overloaded, Scorer
from verifiers.runtime.executor import Unavailable
from verifiers.runtime.pool import ProcessPool
from verifiers.runtime.prepare import prepare
from verifiers.runtime.redis import Keys, RedisExecutor, RedisResultCache, RedisWorker, connect
from verifiers.runtime.task import Task

pytestmark = pytest.mark.timeout(120)


def in_event_loop(test):
    """Run an async test function in a fresh event loop (no async plugin needed)."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return run


class Cluster:
    """API-side executors and worker-side consumers on one Redis, all in this event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.registry = default_registry()
        self.keys = Keys("t")
        self.workers: list[tuple[RedisWorker, ProcessPool, asyncio.Task[None]]] = []
        self.executors: list[RedisExecutor] = []

    async def executor(self, **kwargs) -> RedisExecutor:
        fingerprint = kwargs.pop("fingerprint", None)
        executor = RedisExecutor(self.url, (lambda: fingerprint) if fingerprint else (lambda: self.registry.fingerprint),
                                 keys=self.keys, **kwargs)
        await executor.start()
        self.executors.append(executor)
        return executor

    def scorer(self, executor: RedisExecutor, ttl_s: int = 3600) -> Scorer:
        return Scorer(self.registry, executor, RedisResultCache(executor.client, self.keys, ttl_s=ttl_s),
                      default_timeout_s=5)

    async def add_worker(self, processes: int = 2, **kwargs) -> RedisWorker:
        pool = ProcessPool(processes, registry=self.registry, max_pending=1 << 30)
        await pool.start()
        worker = RedisWorker(self.url, pool, self.registry, processes=processes, keys=self.keys, **kwargs)
        self.workers.append((worker, pool, asyncio.create_task(worker.run())))
        return worker

    async def stop_workers(self) -> None:
        for worker, pool, task in self.workers:
            worker.stop()
            await task
            await pool.close()
        self.workers.clear()

    async def ready_scorer(self, processes: int, **executor_kwargs) -> tuple[RedisExecutor, Scorer]:
        """An executor with a worker of `processes` behind it, ready, and a scorer over it."""
        executor = await self.executor(**executor_kwargs)
        await self.add_worker(processes=processes)
        await self.wait_ready(executor)
        return executor, self.scorer(executor)

    async def wait_ready(self, executor: RedisExecutor, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while not executor.ready():
            assert time.monotonic() < deadline, executor.readiness()
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        await self.stop_workers()
        for executor in self.executors:
            await executor.close()


@asynccontextmanager
async def cluster(url: str):
    c = Cluster(url)
    try:
        yield c
    finally:
        await c.close()


def exact(i: int, ref: int | None = None) -> Item:
    return Item(id=i, verifier="exact", completion=f"w{i}", reference=f"w{i if ref is None else ref}")


@in_event_loop
async def test_verdicts_come_back_in_order_for_concurrent_requests(redis_server):
    async with cluster(redis_server.url) as c:
        executor, scorer = await c.ready_scorer(2)
        big = [exact(i, ref=i if i % 2 else -1) for i in range(600)]
        small = [Item(id="m", verifier="math", completion="so $\\boxed{\\frac{1}{2}}$", reference="0.5"),
                 Item(id="bad", verifier="no-such-verifier", completion="x")]
        got_big, got_small = await asyncio.gather(scorer.score(big), scorer.score(small))
        assert [v.id for v in got_big] == list(range(600))
        assert [v.reward for v in got_big] == [float(i % 2) for i in range(600)]
        assert all(v.status is Status.ok for v in got_big)
        assert got_small[0].reward == 1.0 and got_small[0].verifier.startswith("math@")
        assert got_small[1].status is Status.invalid_input
        deadline = time.monotonic() + 10  # workers report their counts with each heartbeat
        while sum(executor.metrics()["workers"].values()) < 601:
            assert time.monotonic() < deadline, executor.metrics()
            await asyncio.sleep(0.2)
        assert executor.metrics()["queue_depth"] == 0 and executor.pending() == 0


@in_event_loop
async def test_many_concurrent_single_item_requests_all_come_back(redis_server):
    async with cluster(redis_server.url) as c:
        _, scorer = await c.ready_scorer(2, queue_timeout_s=30)
        started = time.monotonic()
        results = await asyncio.gather(*(scorer.score([exact(i)]) for i in range(400)))
        assert [r[0].status for r in results] == [Status.ok] * 400, \
            [r[0].message for r in results if r[0].status is not Status.ok][:2]
        assert [r[0].id for r in results] == list(range(400))
        assert time.monotonic() - started < 25  # none waited for the queue budget to run out


@in_event_loop
async def test_the_result_cache_is_shared_and_expires(redis_server):
    async with cluster(redis_server.url) as c:
        first, second = await c.executor(), await c.executor()  # two API processes
        await c.add_worker(processes=1)
        await c.wait_ready(first)
        await c.wait_ready(second)
        items = [exact(1), Item(id="slow", verifier="demo:sleep", completion="z")]
        fresh = await c.scorer(first, ttl_s=30).score(items, timeout_s=0.5)
        assert [v.cached for v in fresh] == [False, False] and fresh[1].status is Status.timeout
        again = await c.scorer(second, ttl_s=30).score(items, timeout_s=0.5)
        assert again[0].cached is True and again[0].reward == 1.0 and again[0].id == 1
        assert again[1].cached is False  # a timeout is never cached
        client = redis_server.client()
        cache_keys = client.keys("t:cache:*")
        assert len(cache_keys) == 1 and 0 < client.ttl(cache_keys[0]) <= 30
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "volatile-lru"


@in_event_loop
async def test_tasks_no_worker_starts_time_out_saying_they_never_started(redis_server):
    async with cluster(redis_server.url) as c:
        executor = await c.executor(queue_timeout_s=1.0)
        started = time.monotonic()
        verdicts = await c.scorer(executor).score([exact(1), exact(2)])
        assert time.monotonic() - started < 5
        assert [v.status for v in verdicts] == [Status.timeout, Status.timeout]
        assert "never started" in verdicts[0].message and verdicts[0].id == 1
        # The chunks are still on the stream: a worker that arrives late answers them without running them.
        await c.add_worker(processes=1)
        client = redis_server.client()
        deadline = time.monotonic() + 10
        while int(client.hget("t:stats", "expired") or 0) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert int(client.get("t:queued")) == 0


@in_event_loop
async def test_past_the_bound_the_queue_answers_overloaded(redis_server):
    async with cluster(redis_server.url) as c:
        _, scorer = await c.ready_scorer(1, max_pending=10)
        sleepers = [Item(id=i, verifier="demo:sleep", completion=str(i)) for i in range(8)]
        first = asyncio.create_task(scorer.score(sleepers, timeout_s=0.3))
        await asyncio.sleep(0.05)
        with pytest.raises(Overloaded) as refused:
            await scorer.score([exact(i) for i in range(5)])
        assert refused.value.retry_after_header == "1"
        assert [v.status for v in await first] == [Status.timeout] * 8  # the admitted batch is whole


@in_event_loop
async def test_redis_down_fails_fast_and_everything_recovers(redis_server):
    async with cluster(redis_server.url) as c:
        executor, scorer = await c.ready_scorer(1)
        assert (await scorer.score([exact(1)]))[0].reward == 1.0

        redis_server.stop()
        deadline = time.monotonic() + 5
        while executor.state.redis_ok:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(Unavailable, match="Redis is unreachable"):
            await scorer.score([exact(2)])
        assert time.monotonic() - started < 0.5
        assert "Redis is unreachable" in executor.readiness()["reason"]

        redis_server.start()  # same port, empty: no stream, no group, no workers known
        await c.wait_ready(executor, timeout_s=20)
        verdicts = await scorer.score([exact(i) for i in range(20)])
        assert [v.reward for v in verdicts] == [1.0] * 20


@in_event_loop
async def test_a_worker_with_another_registry_is_not_counted_and_refuses_tasks(redis_server):
    async with cluster(redis_server.url) as c:
        stranger = await c.executor(fingerprint="0000000000000000")
        await c.add_worker(processes=1)
        deadline = time.monotonic() + 10
        while not stranger.state.workers:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        body = stranger.readiness()
        assert body["ready"] is False and "1 live worker(s) run another" in body["reason"]
        task = prepare(exact(1), c.registry, timeout_s=5)
        task.fingerprint = "0000000000000000"
        [verdict] = await stranger.run([task])
        assert verdict.status is Status.error and "registry" in verdict.message


@in_event_loop
async def test_a_malformed_stream_entry_does_not_stop_the_worker(redis_server):
    async with cluster(redis_server.url) as c:
        executor = await c.executor()
        await c.add_worker(processes=1)
        await c.wait_ready(executor)
        client = connect(redis_server.url)
        await client.xadd("t:tasks", {"d": b"not json"})
        await client.xadd("t:tasks", {"x": b"no chunk field"})
        await client.xadd("t:tasks", {"d": orjson.dumps({"id": "c", "reply": "t:replies:nobody", "exp": 0,
                                                          "tasks": [{"spec": 3}]})})
        await client.aclose()
        verdicts = await c.scorer(executor).score([exact(i) for i in range(5)])
        assert [v.reward for v in verdicts] == [1.0] * 5


@in_event_loop
async def test_hostile_tasks_in_a_chunk_are_answered_error_in_place(redis_server):
    """The worker host passes task JSON to its pool undecoded: what is not a task is answered `error`
    at its position, by the pool or its process, and the good task beside it is scored."""
    async with cluster(redis_server.url) as c:
        executor = await c.executor()
        await c.add_worker(processes=1)
        await c.wait_ready(executor)
        good = Task(spec=c.registry.resolve("exact").spec, fingerprint=c.registry.fingerprint, text="w1",
                    reference="w1", params={}, timeout_s=5).to_plain()
        hostile = [7, {"spec": 3, "timeout_s": 1}, {"spec": good["spec"], "timeout_s": True},
                   {"spec": good["spec"], "timeout_s": 5}, dict(good, params="not an object"), good]
        client = connect(redis_server.url)
        await client.xadd("t:tasks", {"d": orjson.dumps({"id": "probe", "reply": "t:replies:probe",
                                                          "exp": time.time() + 60, "tasks": hostile})})
        replies = []
        while not any("v" in r for r in replies):
            popped = await client.blpop(["t:replies:probe"], timeout=20)
            assert popped is not None, replies
            replies.append(orjson.loads(popped[1]))
        await client.aclose()
        reply = next(r for r in replies if "v" in r)
        assert reply["c"] == "probe" and reply["p"] == list(range(6))
        assert [v["status"] for v in reply["v"]] == ["error"] * 5 + ["ok"]
        assert all("not a task" in v["message"] for v in reply["v"][:5])
        assert reply["v"][5]["reward"] == 1.0
        # the worker serves on
        verdicts = await c.scorer(executor).score([exact(i) for i in range(3)])
        assert [v.reward for v in verdicts] == [1.0] * 3
