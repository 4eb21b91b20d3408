"""referee-client: micro-batching, retries, and verl's custom-reward call path, against a real server."""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import referee_client
from referee_client import AsyncRefereeClient, RefereeClient, RefereeError
from referee_client.wire import retry_after_s
from tests.conftest import free_port, running_server


def verify_requests(url: str, code: int = 200) -> float:
    """How many `/v1/verify` requests the server has answered with `code` (its own Prometheus counter)."""
    text = httpx.get(f"{url}/metrics").text
    found = re.search(rf'referee_requests_total\{{code="{code}",route="/v1/verify"\}} ([0-9.e+]+)', text)
    return float(found.group(1)) if found else 0.0


def numeric_item(n: int) -> dict:
    return {"id": n, "verifier": "numeric", "completion": f"answer: {n}", "reference": str(n if n % 4 else n + 1)}


def test_the_client_never_imports_the_server_packages():
    source = "\n".join(p.read_text() for p in Path(referee_client.__file__).parent.glob("*.py"))
    assert not re.search(r"^\s*(from|import) (verifiers|sandbox|server|envs)\b", source, re.M)


def test_micro_batching_gathers_single_calls_from_threads(server):
    before = verify_requests(server)
    with RefereeClient(server, micro_batch_ms=20) as client, ThreadPoolExecutor(64) as pool:
        verdicts = list(pool.map(lambda n: client.submit(numeric_item(n)).result(), range(300)))
    assert [v.id for v in verdicts] == list(range(300))
    assert [v.reward for v in verdicts] == [0.0 if n % 4 == 0 else 1.0 for n in range(300)]
    assert verify_requests(server) - before < 100  # 300 calls, far fewer requests


def test_micro_batching_from_async_tasks_and_mixed_deadlines(server):
    async def main():
        async with AsyncRefereeClient(server, micro_batch_ms=10) as client:
            calls = [client.score(numeric_item(n), timeout_s=5 if n % 2 else 7) for n in range(200)]
            calls.append(client.verify_one("exact", "Paris", "paris", id="city"))
            return await asyncio.gather(*calls)

    before = verify_requests(server)
    verdicts = asyncio.run(main())
    assert [v.id for v in verdicts] == [*range(200), "city"]
    assert [v.reward for v in verdicts[:200]] == [0.0 if n % 4 == 0 else 1.0 for n in range(200)]
    assert verdicts[-1].reward == 1.0 and verdicts[-1].scorable
    assert verify_requests(server) - before < 80


def test_failures_reach_every_waiting_caller():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    with RefereeClient(url, micro_batch_ms=5, max_retries=1, backoff_s=0.01) as client:
        futures = [client.submit(numeric_item(n)) for n in range(20)]
        for future in futures:
            with pytest.raises(RefereeError, match="gave up after 2 attempts"):
                future.result(timeout=30)


def test_refusals_are_not_retried(server):
    with RefereeClient(server, max_retries=5, batch_size=20_000) as client:
        started = time.monotonic()
        with pytest.raises(RefereeError, match="413") as caught:
            client.verify([numeric_item(1)] * 20_000)
        assert caught.value.status_code == 413 and time.monotonic() - started < 30


def test_an_overloaded_server_is_retried_after_its_retry_after(demo_plugin):
    with running_server("--workers", "2", env={"REFEREE_MAX_PENDING_ITEMS": "8"}) as url:
        slow = [{"verifier": "demo:sleep", "completion": str(i)} for i in range(6)]
        with ThreadPoolExecutor(1) as pool:
            holder = pool.submit(lambda: RefereeClient(url).verify(slow, timeout_s=2))
            deadline = time.monotonic() + 30
            while "referee_pending_items 6.0" not in httpx.get(f"{url}/metrics").text and time.monotonic() < deadline:
                time.sleep(0.05)
            with RefereeClient(url, max_retries=8, micro_batch_ms=5) as client:
                futures = [client.submit(numeric_item(n)) for n in range(1, 6)]  # 6 + 5 is over the bound
                assert [f.result(timeout=60).reward for f in futures] == [1.0, 1.0, 1.0, 0.0, 1.0]
            assert [v.status for v in holder.result()] == ["timeout"] * 6
        assert verify_requests(url, 429) >= 1  # refused at first, then served after Retry-After


def test_retry_after_is_read_as_seconds_or_a_date():
    def answer(value: str | None) -> httpx.Response:
        return httpx.Response(429, headers={"retry-after": value} if value is not None else {})

    assert retry_after_s(answer("2")) == 2.0
    assert retry_after_s(answer("0.5")) == 0.5
    assert retry_after_s(answer("99999")) == 60.0  # capped
    soon = email.utils.formatdate(time.time() + 3, usegmt=True)
    assert 1.0 <= retry_after_s(answer(soon)) <= 3.5
    assert retry_after_s(answer(email.utils.formatdate(time.time() - 100, usegmt=True))) == 0.0
    assert retry_after_s(answer("soon-ish")) is None and retry_after_s(answer(None)) is None
    assert retry_after_s(None) is None


# -- verl's custom reward function ---------------------------------------------------------------------


@pytest.fixture
def verl_reward_fn(trainer_code):
    """What verl's `get_custom_reward_fn` builds: the function loaded by verl's own
    `load_extern_object` (verl/utils/import_utils.py needs only the standard library), with
    `reward_kwargs` merged into each call's keywords (`_call_with_kwargs[_async]` in
    verl/trainer/ppo/reward.py, which itself needs ray)."""
    from tests.test_trainers_compat import _load_verl_file

    load_extern_object = _load_verl_file(trainer_code, "utils/import_utils.py").load_extern_object
    return lambda path, name, reward_kwargs: _with_kwargs(load_extern_object(module_path=path, object_name=name),
                                                          reward_kwargs)


def _with_kwargs(raw, reward_kwargs: dict):
    if asyncio.iscoroutinefunction(raw):
        async def call_async(*args, **kwargs):
            return await raw(*args, **(kwargs | reward_kwargs))
        return call_async
    return lambda *args, **kwargs: raw(*args, **(kwargs | reward_kwargs))


ROWS = [("openai/gsm8k", f"so the answer is \\boxed{{{n}}}", str(n if n % 5 else n + 1)) for n in range(120)]


def test_verl_compute_score_from_reward_workers(server, verl_reward_fn):
    import referee_client.verl as verl_module

    compute_score = verl_reward_fn(verl_module.__file__, "compute_score",
                                   {"verifier": "math", "url": server, "micro_batch_ms": 10})
    before = verify_requests(server)
    # verl's reward manager runs a sync compute_score in an executor, one call per rollout
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda row: compute_score(data_source=row[0], solution_str=row[1], ground_truth=row[2],
                                                          extra_info={"index": 0}), ROWS))
    assert [r["score"] for r in results] == [0.0 if n % 5 == 0 else 1.0 for n in range(120)]
    assert all(r["unscorable"] == 0.0 for r in results)
    assert len({tuple(sorted(r)) for r in results}) == 1  # same keys on every result: verl stacks them
    assert verify_requests(server) - before < 60
    with RefereeClient(server) as client:  # the same numbers as Referee's own answer
        direct = client.verify([{"verifier": "math", "completion": s, "reference": g} for _, s, g in ROWS])
    assert [r["score"] for r in results] == [v.reward for v in direct]


def test_verl_compute_score_async_and_unscorable_choices(server, verl_reward_fn):
    compute = verl_reward_fn("pkg://referee_client.verl", "compute_score_async", {"verifier": "math", "url": server})

    async def main():
        return await asyncio.gather(*(compute(data_source=d, solution_str=s, ground_truth=g, extra_info={})
                                      for d, s, g in ROWS))

    results = asyncio.run(main())
    assert [r["score"] for r in results] == [0.0 if n % 5 == 0 else 1.0 for n in range(120)]

    zero = verl_reward_fn("pkg://referee_client.verl", "compute_score", {"verifier": "no-such", "url": server})
    result = zero(data_source="x", solution_str="1", ground_truth="1", extra_info=None)
    assert result["score"] == 0.0 and result["unscorable"] == 1.0
    strict = verl_reward_fn("pkg://referee_client.verl", "compute_score",
                            {"verifier": "no-such", "url": server, "on_unscorable": "raise"})
    with pytest.raises(RefereeError, match="invalid_input"):
        strict(data_source="x", solution_str="1", ground_truth="1", extra_info=None)
    by_source = verl_reward_fn("pkg://referee_client.verl", "compute_score",
                               {"verifier": {"capitals": "exact"}, "url": server})
    assert by_source(data_source="capitals", solution_str="Paris", ground_truth="paris", extra_info={})["score"] == 1.0
    with pytest.raises(ValueError, match="no Referee verifier"):
        by_source(data_source="unmapped", solution_str="Paris", ground_truth="paris", extra_info={})
