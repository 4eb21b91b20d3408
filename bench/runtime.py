"""The runtime spine under load, against a real `referee serve`, optionally next to an older revision.

    .venv/bin/python -m bench.runtime [--baseline DIR] [--workers 2] [--seconds 5]

DIR is a checkout of the revision to compare with (e.g. `git worktree add /tmp/base 1087b48`);
both servers run the same workloads in the same run, one after the other. Printed per server:
  * `exact` at batch 4,096 (2 clients): verdicts/s;
  * single-item requests on an idle server: p50;
  * the event loop's longest stall: the largest gap between two `/healthz` answers (one client
    asking in a tight loop) while a 16,384-item `code` batch is prepared and scored;
  * single-item requests while a 16,384-item `math` batch runs: p50, p99 and how many were sent.
Workloads use distinct items (no dedup, result cache off).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from dataclasses import dataclass, field

import httpx
import orjson

from bench.local_server import start_server
from bench.service import run_batches

BIG = 16_384
CODE_TESTS = [{"stdin": f"{k} {k + 1}", "stdout": f"{2 * k + 1}"} for k in range(5)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def code_batch(salt: int) -> bytes:
    # Each item carries a five-test reference (the preparation cost) and an unfenced answer that
    # `require_fence` turns into `wrong_format` in the worker: the batch is about the API process.
    items = [{"verifier": "code", "completion": f"I would print the sum, {salt}-{i}.",
              "reference": {"tests": CODE_TESTS, "language": "python"}, "params": {"require_fence": True}}
             for i in range(BIG)]
    return orjson.dumps({"items": items})


def math_batch(salt: int) -> bytes:
    items = [{"verifier": "math", "completion": f"The answer is $\\frac{{{salt + i}}}{{7}}$",
              "reference": f"{salt + i}/7"} for i in range(BIG)]
    return orjson.dumps({"items": items})


def single(salt: int) -> bytes:
    return orjson.dumps({"items": [{"verifier": "exact", "completion": f"one {salt}", "reference": f"one {salt}"}]})


def single_latencies(url: str, seconds: float, stop: threading.Event | None = None) -> list[float]:
    out: list[float] = []
    with httpx.Client(base_url=url, timeout=300) as http:
        end = time.monotonic() + seconds
        salt = int(time.time() * 1000)
        while time.monotonic() < end and not (stop and stop.is_set()):
            salt += 1
            t0 = time.perf_counter()
            r = http.post("/v1/verify", content=single(salt), headers={"content-type": "application/json"})
            out.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text[:200]
    return out


def post_in_background(url: str, body: bytes, done: threading.Event, status: list[int]) -> threading.Thread:
    def run() -> None:
        with httpx.Client(base_url=url, timeout=600) as http:
            r = http.post("/v1/verify", content=body, headers={"content-type": "application/json"})
            status.append(r.status_code)
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def healthz_gap(url: str, body: bytes) -> tuple[float, float]:
    """(largest gap between /healthz answers, batch wall time), both in seconds."""
    done, status = threading.Event(), []
    answers: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as http:
        http.get("/healthz")
        started = time.monotonic()
        thread = post_in_background(url, body, done, status)
        while not done.is_set():
            http.get("/healthz")
            answers.append(time.monotonic())
        thread.join()
        wall = time.monotonic() - started
    assert status == [200], status
    points = [started] + answers + [started + wall]
    return max(b - a for a, b in zip(points, points[1:])), wall


@dataclass
class Figures:
    exact_rate: float = 0.0
    single_p50_ms: float = 0.0
    healthz_gap_ms: float = 0.0
    code_batch_s: float = 0.0
    loaded_p50_ms: float = 0.0
    loaded_p99_ms: float = 0.0
    loaded_n: int = 0
    notes: list[str] = field(default_factory=list)


def measure(source: str | None, workers: int, seconds: float) -> Figures:
    proc, url = start_server(workers, env={"REFEREE_CACHE_ENTRIES": "0"}, source=source)
    fig = Figures()
    try:
        run_batches(url, 64, 1.0, 1)  # warm up workers and the code path
        fig.exact_rate, _ = run_batches(url, 4096, seconds, 2)
        fig.single_p50_ms = statistics.median(single_latencies(url, seconds)) * 1000
        gap, wall = healthz_gap(url, code_batch(1))
        fig.healthz_gap_ms, fig.code_batch_s = gap * 1000, wall
        done, status = threading.Event(), []
        thread = post_in_background(url, math_batch(10**6), done, status)
        time.sleep(1.0)  # let the batch arrive and be queued
        lat = single_latencies(url, 600, stop=done)
        thread.join()
        fig.loaded_p50_ms = statistics.median(lat) * 1000
        fig.loaded_p99_ms = percentile(lat, 0.99) * 1000
        fig.loaded_n = len(lat)
    finally:
        proc.terminate()
        proc.wait()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="checkout of the revision to compare with")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    runs: dict[str, Figures] = {}
    if args.baseline:
        runs["before"] = measure(args.baseline, args.workers, args.seconds)
    runs["after"] = measure(None, args.workers, args.seconds)
    rows = [
        ("exact, batch 4,096: verdicts/s", "exact_rate", "{:,.0f}"),
        ("single item, idle: p50 ms", "single_p50_ms", "{:.2f}"),
        ("longest /healthz gap, 16,384 code items: ms", "healthz_gap_ms", "{:,.0f}"),
        ("  that code batch, wall s", "code_batch_s", "{:.1f}"),
        ("single item during a 16,384 math batch: p50 ms", "loaded_p50_ms", "{:,.1f}"),
        ("single item during a 16,384 math batch: p99 ms", "loaded_p99_ms", "{:,.1f}"),
        ("  single requests answered during that batch", "loaded_n", "{:,}"),
    ]
    names = list(runs)
    print(f"{'':<50}" + "".join(f"{n:>14}" for n in names) + (f"{'after/before':>14}" if len(names) == 2 else ""))
    for label, attr, fmt in rows:
        values = [getattr(runs[n], attr) for n in names]
        line = f"{label:<50}" + "".join(f"{fmt.format(v):>14}" for v in values)
        if len(values) == 2 and values[0]:
            line += f"{values[1] / values[0]:>14.2f}"
        print(line)
    print(f"workers={args.workers}; machine load average over the last minute: {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
