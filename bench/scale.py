"""Scale-out on Redis against the embedded pool, and a flood of single-item requests.

    .venv/bin/python -m bench.scale [--batches 4] [--requests 10000]

Part 1 (same workload, same cores): batches of 4,096 items (the math mix of bench.math_workload
plus `exact`, all distinct, result cache off) through POST /v1/verify of
  - the embedded service (`referee serve --workers 2`),
  - `referee serve --redis` with one `referee worker --processes 2` (one local worker group),
  - `referee serve --redis` with two `referee worker --processes 1`,
printing verdicts/s, the CPU all of a setup's processes spent per verdict (a figure that load
on a shared machine does not inflate) and the ratios to the embedded pool.
Part 2: `--requests` single-item requests sent at once, spread over 2 API replicas sharing one
Redis and one worker group, on loopback; prints errors, p50 and p99. Needs `redis-server`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from urllib.parse import urlsplit

import httpx
import orjson

from bench.local_server import free_port
from bench.math_workload import generate
from bench.service import tree_cpu_seconds

BATCH = 4096


def workload(batch_index: int) -> bytes:
    """Half the math mix, half `exact`; distinct across batches (seeded by the batch index)."""
    samples = generate(prompts=BATCH // 32, samples=16, seed=1000 + batch_index)
    items = [{"verifier": "math", "completion": s.completion, "reference": s.reference} for s in samples]
    items += [{"verifier": "exact", "completion": f"answer {batch_index}-{i}", "reference": f"answer {batch_index}-{i % 2}"}
              for i in range(BATCH - len(items))]
    return orjson.dumps({"items": items, "timeout_s": 10})


SPAWNED: list[subprocess.Popen[bytes]] = []  # every process of the setup being measured


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", *args], env=os.environ | env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    SPAWNED.append(proc)
    return proc


def setup_cpu_seconds() -> float:
    return sum(tree_cpu_seconds(p.pid) for p in SPAWNED if p.poll() is None)


def serve(stack: ExitStack, env: dict[str, str], *args: str) -> str:
    port = free_port()
    proc = spawn(["serve", "--port", str(port), "--log-level", "warning", *args], env)
    stack.callback(stop, proc)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server {args} did not become ready")


def worker(stack: ExitStack, env: dict[str, str], redis_url: str, processes: int) -> None:
    stack.callback(stop, spawn(["worker", "--redis", redis_url, "--processes", str(processes)], env))


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc in SPAWNED:
        SPAWNED.remove(proc)
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_redis(stack: ExitStack) -> str:
    port = free_port()
    binary = shutil.which("redis-server") or "/usr/sbin/redis-server"
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--maxmemory", "512mb", "--maxmemory-policy", "volatile-lru"],
                            stdout=subprocess.DEVNULL)
    SPAWNED.append(proc)
    stack.callback(stop, proc)
    time.sleep(0.3)
    return f"redis://127.0.0.1:{port}/0"


def throughput(url: str, batches: int) -> tuple[float, float]:
    """Verdicts per second with two clients posting batches of 4,096 items back to back, and the
    CPU microseconds every process of the setup spent per verdict."""
    bodies = [workload(i) for i in range(batches + 1)]
    with httpx.Client(base_url=url, timeout=300) as http:  # warm-up: workers import their engines
        http.post("/v1/verify", content=bodies[-1], headers={"content-type": "application/json"})
    done = [0]
    lock = threading.Lock()

    def client(mine: list[bytes]) -> None:
        with httpx.Client(base_url=url, timeout=300) as http:
            for body in mine:
                r = http.post("/v1/verify", content=body, headers={"content-type": "application/json"})
                assert r.status_code == 200, r.text[:300]
                with lock:
                    done[0] += len(r.json()["verdicts"])

    cpu_before = setup_cpu_seconds()
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(bodies[k:batches:2],)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return done[0] / elapsed, (setup_cpu_seconds() - cpu_before) / done[0] * 1e6


async def one_request(url: str, body: bytes) -> tuple[int, float]:
    """A bare HTTP/1.1 POST on its own connection: (status, seconds); status 0 on a transport error."""
    parts = urlsplit(url)
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(b"POST /v1/verify HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (parts.netloc.encode(), len(body), body))
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()
        writer.close()
        return int(status_line.split()[1]), time.perf_counter() - started
    except (OSError, ValueError, IndexError):
        return 0, time.perf_counter() - started


async def flood(urls: list[str], requests: int) -> tuple[list[int], list[float]]:
    bodies = [orjson.dumps({"items": [{"verifier": "exact", "completion": f"flood {i}", "reference": f"flood {i % 3}"}]})
              for i in range(requests)]
    results = await asyncio.wait_for(
        asyncio.gather(*(one_request(urls[i % len(urls)], body) for i, body in enumerate(bodies))), timeout=600)
    return [s for s, _ in results], [t for _, t in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=4, help="batches of 4,096 items per setup")
    parser.add_argument("--requests", type=int, default=10_000, help="single-item requests in the flood")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the flood holds one socket per request
    quiet = {"REFEREE_CACHE_ENTRIES": "0", "REFEREE_CACHE_TTL_S": "0"}

    rates: dict[str, tuple[float, float]] = {}
    with ExitStack() as stack:
        rates["embedded pool, 2 processes"] = throughput(serve(stack, quiet, "--workers", "2"), args.batches)
    with ExitStack() as stack:
        redis_url = start_redis(stack)
        worker(stack, quiet, redis_url, 2)
        rates["Redis, 1 worker x 2 processes"] = throughput(
            serve(stack, quiet, "--redis", redis_url, "--workers", "0"), args.batches)
    with ExitStack() as stack:
        redis_url = start_redis(stack)
        worker(stack, quiet, redis_url, 1)
        worker(stack, quiet, redis_url, 1)
        rates["Redis, 2 workers x 1 process"] = throughput(
            serve(stack, quiet, "--redis", redis_url, "--workers", "0"), args.batches)

    base_rate, base_cpu = rates["embedded pool, 2 processes"]
    print(f"batch {BATCH} (math mix + exact, distinct, cache off), {os.cpu_count()} cores")
    print(f"{'setup':<32} {'verdicts/s':>11} {'vs embedded':>12} {'CPU µs/verdict':>15} {'vs embedded':>12}")
    for name, (rate, cpu) in rates.items():
        print(f"{name:<32} {rate:>11,.0f} {rate / base_rate:>11.0%} {cpu:>15,.0f} {base_cpu / cpu:>11.0%}")

    with ExitStack() as stack, tempfile.TemporaryDirectory():
        redis_url = start_redis(stack)
        worker(stack, quiet, redis_url, 2)
        urls = [serve(stack, quiet, "--redis", redis_url, "--workers", "0") for _ in range(2)]
        started = time.perf_counter()
        statuses, seconds = asyncio.run(flood(urls, args.requests))
        wall = time.perf_counter() - started
    errors = sum(1 for s in statuses if s != 200)
    seconds.sort()
    p50 = statistics.median(seconds) * 1000
    p99 = seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))] * 1000
    print(f"\n{args.requests:,} concurrent single-item requests over 2 API replicas (loopback, Redis, 1 worker x 2):")
    print(f"errors {errors}, p50 {p50:,.0f} ms, p99 {p99:,.0f} ms, all answered in {wall:.1f} s")
    print(f"machine load average over the last minute: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
