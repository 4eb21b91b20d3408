"""Registration stores: a file and a real redis-server, written by racing processes, then applied."""

from __future__ import annotations

import multiprocessing as mp
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import free_port
from verifiers.custom.catalog import RegistrationError, RuntimeVerifiers
from verifiers.custom.store import FileStore, RedisStore, open_store
from verifiers.registry import Registry, default_registry

SPEC = {"name": "s:eq", "version": 1, "kind": "preset", "base": "exact", "params": {"case_sensitive": True},
        "accept": [{"completion": "Paris", "reference": "Paris"}],
        "reject": [{"completion": "paris", "reference": "Paris"}]}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
                            stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(10)


def _append(location: str, n: int) -> None:
    store = open_store(location)
    for i in range(n):
        store.update(lambda records, i=i: records + [{"writer": location, "i": i}])


@pytest.fixture(params=["file", "redis"])
def location(request, tmp_path) -> str:
    if request.param == "file":
        return str(tmp_path / "store" / "verifiers.json")
    return request.getfixturevalue("redis_url") + f"#t{time.monotonic_ns()}"


def test_racing_writers_lose_nothing(location):
    procs = [mp.get_context("spawn").Process(target=_append, args=(location, 25)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert len(open_store(location).load()) == 75


def test_a_registration_is_applied_by_another_registry_and_retired_everywhere(location):
    server = RuntimeVerifiers(Registry(default_registry().all()), open_store(location))
    report = server.register(SPEC)
    assert report.admitted, report.message
    worker_registry = Registry(default_registry().all())
    worker = RuntimeVerifiers(worker_registry, open_store(location))
    assert "s:eq@1" not in worker_registry
    assert worker.sync() is True and worker_registry.fingerprint == server.registry.fingerprint
    pinned = default_registry().resolve("exact").spec
    assert worker_registry.resolve("s:eq").base.spec == pinned  # pinned at registration
    assert worker.sync() is False  # nothing new
    with pytest.raises(RegistrationError) as taken:
        server.register(SPEC)
    assert taken.value.status == 409
    server.retire("s:eq@1", "wrong on accents")
    worker.sync()
    assert "s:eq@1" not in worker_registry and worker_registry.fingerprint == server.registry.fingerprint
    record = open_store(location).load()[0]
    assert record["retired"]["reason"] == "wrong on accents" and record["admission"]["admitted"] is True


def test_open_store_reads_locations():
    assert isinstance(open_store("/tmp/x/verifiers.json"), FileStore)
    store = open_store("redis://127.0.0.1:1/0#staging")
    assert isinstance(store, RedisStore) and store.key == "staging:verifiers"
