"""Throughput of POST /v1/verify with `exact` items, and single-item latency, against `referee serve`.

    .venv/bin/python -m bench.service [--workers N] [--seconds S]

Starts a real server on a free loopback port, keeps one HTTP connection per client, prints a table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import httpx
import orjson

from bench.local_server import start_server


def tree_cpu_seconds(root: int, reaped: bool = False) -> float:
    """CPU time (user+system) of a process and all its descendants: a figure that load on a
    shared machine does not inflate the way it inflates wall time. With `reaped`, also what
    descendants that already exited used (short-lived forks, such as sandbox runs)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        used = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if reaped else 0)
        cpu[int(entry)] = used / ticks
    def descends(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = parent.get(pid, 1)
        return False
    return sum(t for pid, t in cpu.items() if descends(pid))


def make_body(batch: int, salt: int) -> bytes:
    # Distinct completions so neither in-batch dedup nor the cache does the work.
    items = [{"verifier": "exact", "completion": f"answer {salt}-{i}", "reference": f"answer {salt}-{i % 2}"}
             for i in range(batch)]
    return orjson.dumps({"items": items})


def run_batches(url: str, batch: int, seconds: float, clients: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    done = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            salt = index * 1_000_000
            while time.monotonic() < stop:
                body = make_body(batch, salt)
                salt += 1
                t0 = time.perf_counter()
                r = http.post("/v1/verify", content=body, headers={"content-type": "application/json"})
                elapsed = time.perf_counter() - t0
                assert r.status_code == 200, r.text[:200]
                with lock:
                    latencies.append(elapsed)
                    done[0] += batch

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / (time.monotonic() - start), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    proc, url = start_server(args.workers, env={"REFEREE_CACHE_ENTRIES": "0"})
    try:
        run_batches(url, 64, 1.0, 1)  # warm up
        print(f"{'batch':>6} {'clients':>7} {'verdicts/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'server CPU µs/verdict':>22}")
        for batch, clients in ((1, 1), (64, 2), (4096, 2)):
            cpu_before = tree_cpu_seconds(proc.pid)
            rate, lat = run_batches(url, batch, args.seconds, clients)
            cpu_used = tree_cpu_seconds(proc.pid) - cpu_before
            lat.sort()
            p50 = statistics.median(lat) * 1000
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
            per_verdict = cpu_used / (rate * args.seconds) * 1e6
            print(f"{batch:>6} {clients:>7} {rate:>11,.0f} {p50:>8.2f} {p99:>8.2f} {per_verdict:>22,.0f}")
        print(f"machine load average over the last minute: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
