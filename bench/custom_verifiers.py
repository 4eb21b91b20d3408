"""Per-item cost of a runtime-registered Python verifier (in the sandbox) vs the same function as a plugin.

    .venv/bin/python -m bench.custom_verifiers [--items 4096] [--batch 256] [--workers 2]

The same trivial `score(completion, reference, params)` scored on the same distinct items:
  * plugin:  the function as an installed verifier ($REFEREE_PLUGINS), run in the worker pool;
  * sandbox: the same source registered at runtime (POST /v1/verifiers), run in each worker's
             warm sandbox: imported once per batch, one isolated fork per item.
Both through one `referee serve` over HTTP (result cache defeated by distinct completions), and
then in one process without the service, to show the sandbox's own share. Per-item figures are
batch latency / batch size; p50 and p99 are over batches.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from verifiers.base import verifier_from_function
from verifiers.contract import Verdict

SOURCE = '''
def score(completion, reference, params):
    return float(completion.strip() == reference)
'''


def _score(completion, reference, params, ctx):  # the same function, as a plugin verifier
    return Verdict.scored(float(completion.strip() == reference))


VERIFIERS = [verifier_from_function(_score, name="bench:plugin-eq", version=1)]

SPEC = {"name": "bench:sandbox-eq", "version": 1, "kind": "python", "source": SOURCE,
        "accept": [{"completion": "42", "reference": "42"}], "reject": [{"completion": "7", "reference": "42"}]}


def _items(verifier: str, n: int, salt: str) -> list[dict]:
    return [{"verifier": verifier, "completion": f"{salt}-{i}", "reference": f"{salt}-{i if i % 3 else -1}"}
            for i in range(n)]


def _per_item_ms(latencies: list[float], batch: int) -> tuple[float, float]:
    per_item = sorted(l / batch * 1000 for l in latencies)
    return statistics.median(per_item), per_item[min(len(per_item) - 1, int(len(per_item) * 0.99))]


def bench_http(url: str, verifier: str, items: int, batch: int, salt: str,
               server_pid: int) -> tuple[float, float, float, float]:
    """(p50 ms/item, p99 ms/item, items/s, server CPU ms/item) for batches sent one after another."""
    from bench.service import tree_cpu_seconds

    latencies = []
    with httpx.Client(base_url=url, timeout=300) as client:
        client.post("/v1/verify", json={"items": _items(verifier, batch, salt + "warm")})  # warm sandboxes
        cpu_before = tree_cpu_seconds(server_pid, reaped=True)
        started = time.perf_counter()
        for b in range(items // batch):
            body = {"items": _items(verifier, batch, f"{salt}{b}")}
            t = time.perf_counter()
            response = client.post("/v1/verify", json=body)
            latencies.append(time.perf_counter() - t)
            verdicts = response.json()["verdicts"]
            assert all(v["status"] == "ok" for v in verdicts), verdicts[:2]
            assert sum(v["reward"] for v in verdicts) == sum(1 for i in range(batch) if i % 3), "wrong rewards"
        total = time.perf_counter() - started
        cpu = tree_cpu_seconds(server_pid, reaped=True) - cpu_before
    p50, p99 = _per_item_ms(latencies, batch)
    done = (items // batch) * batch
    return p50, p99, done / total, cpu / done * 1000


def bench_in_process(items: int, batch: int) -> tuple[float, float]:
    """Per-item ms of the sandboxed verifier and of the plugin, in this process (no service)."""
    from verifiers.base import Context
    from verifiers.custom.build import build_verifier
    from verifiers.custom.spec import spec_adapter
    from verifiers.registry import Registry, default_registry

    registry = Registry(default_registry().all())
    sandboxed = build_verifier(spec_adapter.validate_python(SPEC), registry)
    plugin = VERIFIERS[0]
    params = sandboxed.parse_params({})
    jobs = [(f"x{i}", f"x{i}", params) for i in range(batch)]
    sandboxed.verify_batch(jobs, Context(registry=registry))  # start the warm sandbox
    sandbox_lat, plugin_lat = [], []
    for _ in range(items // batch):
        t = time.perf_counter()
        done = 0
        while done < len(jobs):
            done += len(sandboxed.verify_batch(jobs[done:], Context(registry=registry)))
        sandbox_lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        for text, ref, p in jobs:
            plugin.verify(text, ref, plugin.parse_params({}), Context(registry=registry))
        plugin_lat.append(time.perf_counter() - t)
    sandboxed.release()
    return _per_item_ms(sandbox_lat, batch)[0], _per_item_ms(plugin_lat, batch)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from bench.local_server import start_server

    with tempfile.TemporaryDirectory() as tmp:
        root = str(Path(__file__).resolve().parent.parent)
        env = {"REFEREE_VERIFIER_STORE": os.path.join(tmp, "verifiers.json"), "REFEREE_CACHE_ENTRIES": "0",
               "REFEREE_PLUGINS": "bench.custom_verifiers",
               "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc, url = start_server(args.workers, env)
        try:
            t = time.perf_counter()
            response = httpx.post(f"{url}/v1/verifiers", json=SPEC, timeout=300)
            assert response.status_code == 201, response.text
            admit_s = time.perf_counter() - t
            plugin = bench_http(url, "bench:plugin-eq", args.items, args.batch, "p", proc.pid)
            sandbox = bench_http(url, "bench:sandbox-eq", args.items, args.batch, "s", proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
    sandbox_local, plugin_local = bench_in_process(min(args.items, 2048), args.batch)

    print(f"{args.items} distinct items in batches of {args.batch}, {args.workers} workers, over HTTP")
    print(f"{'verifier':<28}{'p50 ms/item':>12}{'p99 ms/item':>12}{'items/s':>10}{'server CPU ms/item':>20}")
    for label, row in (("plugin (in the worker)", plugin), ("python source (sandbox)", sandbox)):
        print(f"{label:<28}{row[0]:>12.3f}{row[1]:>12.3f}{row[2]:>10.0f}{row[3]:>20.3f}")
    print(f"sandbox overhead per item, p50: {sandbox[0] - plugin[0]:.3f} ms (target < 5 ms); "
          f"ratio sandbox/plugin {sandbox[0] / plugin[0]:.1f}x")
    print(f"in one process, no service: sandbox {sandbox_local:.3f} ms/item, plugin {plugin_local:.4f} ms/item")
    print(f"admission of the sandboxed verifier (all five stages): {admit_s:.2f} s")
    print(f"machine load average over the last minute: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
