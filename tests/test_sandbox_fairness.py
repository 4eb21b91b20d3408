"""Sandbox slots and environment sampling are shared fairly between callers.

`FairSlots` is tested directly (its rules) and through a running server (two API keys, two
slots): one caller's long programs never make another caller wait for them, a caller that waits
past the deadline gets 429 with Retry-After, and a large sampling request does not hold up a
small one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import httpx
import pytest

from sandbox.pool import FairSlots, SlotsBusy
from tests.conftest import running_server


async def hold(slots: FairSlots, caller: str, release: asyncio.Event, order: list[str]) -> None:
    async with slots.slot(caller, expected_s=5):
        order.append(caller)
        await release.wait()


def test_one_slot_stays_free_for_another_caller():
    async def scenario() -> None:
        slots = FairSlots(2, max_wait_s=0.2)
        release, order = asyncio.Event(), []
        first = asyncio.create_task(hold(slots, "alice", release, order))
        await asyncio.sleep(0)
        with pytest.raises(SlotsBusy) as busy:  # alice may not take the last slot ...
            await hold(slots, "alice", release, order)
        assert busy.value.retry_after_s >= 1
        second = asyncio.create_task(hold(slots, "bob", release, order))  # ... bob may
        await asyncio.sleep(0.05)
        assert order == ["alice", "bob"] and slots.free == 0
        release.set()
        await asyncio.gather(first, second)
        assert slots.free == 2 and slots.waiting == 0

    asyncio.run(scenario())


def test_a_freed_slot_goes_to_the_caller_holding_fewest():
    async def scenario() -> None:
        slots = FairSlots(2, per_caller=2, max_wait_s=5)
        alice_done, late_done, order = asyncio.Event(), asyncio.Event(), []
        held = [asyncio.create_task(hold(slots, "alice", alice_done, order)) for _ in range(2)]
        await asyncio.sleep(0)
        alice_again = asyncio.create_task(hold(slots, "alice", late_done, order))  # waits first
        await asyncio.sleep(0.01)
        bob = asyncio.create_task(hold(slots, "bob", late_done, order))  # waits second, holds none
        await asyncio.sleep(0.01)
        alice_done.set()  # both of alice's slots free up: bob's turn comes first, then alice's
        await asyncio.gather(*held)
        await asyncio.sleep(0.01)
        assert order == ["alice", "alice", "bob", "alice"]
        late_done.set()
        await asyncio.gather(alice_again, bob)
        assert slots.free == 2

    asyncio.run(scenario())


def test_a_full_waiting_room_refuses_at_once_and_a_cancelled_wait_leaves_no_trace():
    async def scenario() -> None:
        slots = FairSlots(1, max_wait_s=10, max_waiting=1)
        release, order = asyncio.Event(), []
        running = asyncio.create_task(hold(slots, "alice", release, order))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(hold(slots, "bob", release, order))
        await asyncio.sleep(0.01)
        with pytest.raises(SlotsBusy):
            slots.check_room()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert slots.waiting == 0
        release.set()
        await running
        assert slots.free == 1 and order == ["alice"]

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def two_slot_server():
    env = {"REFEREE_API_KEYS": "alice-key,bob-key", "REFEREE_SANDBOX_SLOTS": "2", "REFEREE_SANDBOX_WAIT_S": "2",
           "REFEREE_SAMPLER_PROCESSES": "2"}
    with running_server("--workers", "1", env=env) as url:
        yield url


def post(server: str, path: str, key: str, body: dict) -> httpx.Response:
    return httpx.post(f"{server}{path}", json=body, headers={"authorization": f"Bearer {key}"}, timeout=120)


def test_one_callers_long_programs_do_not_hold_up_another(two_slot_server):
    sleep = {"language": "python", "source": "import time\ntime.sleep(8)\nprint('slept')", "limits": {"wall_time_s": 30}}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        long_run = pool.submit(post, two_slot_server, "/v1/sandbox/run", "alice-key", sleep)
        time.sleep(1.5)  # let alice's program start
        second = pool.submit(post, two_slot_server, "/v1/sandbox/run", "alice-key", sleep)
        quick = post(two_slot_server, "/v1/sandbox/run", "bob-key", {"language": "python", "source": "print(6 * 7)"})
        assert quick.status_code == 200 and quick.json()["stdout"] == "42\n"
        assert not long_run.done()  # bob's answer came while alice's program still ran
        refused = second.result()  # alice already holds her share: she waits 2 s, then is told when to retry
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        assert long_run.result().json()["stdout"] == "slept\n"


def test_a_large_sampling_request_does_not_hold_up_a_small_one(two_slot_server):
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        large = pool.submit(post, two_slot_server, "/v1/envs/sudoku/sample", "alice-key",
                            {"seed": 0, "n": 40, "config": {"size": 9, "empty_fraction": 0.7}})
        time.sleep(1.5)
        small = post(two_slot_server, "/v1/envs/lcs/sample", "bob-key", {"seed": 3, "n": 2})
        assert small.status_code == 200 and len(small.json()["instances"]) == 2
        assert not large.done()
        body = large.result().json()
        assert [inst["seed"] for inst in body["instances"]] == list(range(40))
