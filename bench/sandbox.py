"""Isolated test executions per second: Referee's warm sandbox vs a fresh `python3` per test.

    .venv/bin/python -m bench.sandbox [--programs 200] [--tests 10] [--procs 2] [--compiled 10]

Same input, same run, same parallelism (`--procs` worker processes for both runners):
  * ours:  each worker has one warm sandbox; a program is compiled once, then every test is a
           fresh isolated run (own PID/mount/IPC/UTS namespaces, fresh tmpfs, rlimits,
           cgroup memory/pids limits, no capabilities), compared in the trusted parent;
  * naive: `python3 main.py` as a plain subprocess per test, no isolation at all
           (roughly SandboxFusion's per-test call with its sandbox switched off).
Then a trivial `print` workload, and a compiled language: compile once + run N tests (ours)
vs compile + run for every test (naive, no isolation).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable

from sandbox import Sandbox
from sandbox.compare import outputs_match
from sandbox.languages import SANDBOX_PYTHON

PYTHON = SANDBOX_PYTHON  # the interpreter the sandbox runs, so both runners use the same one


def python_program(i: int) -> str:
    return f"import sys\nnums = list(map(int, sys.stdin.read().split()))\nprint(sum(x * {i % 7 + 1} for x in nums))\n"


def python_tests(i: int, n: int) -> list[tuple[str, str]]:
    cases = []
    for t in range(n):
        nums = [(i * 31 + t * 17 + k) % 100 for k in range(10)]
        cases.append((" ".join(map(str, nums)), str(sum(x * (i % 7 + 1) for x in nums))))
    return cases


CPP_PROGRAM = """#include <iostream>
int main() { long long s = 0, x; while (std::cin >> x) s += x * %d; std::cout << s << std::endl; }
"""

Work = tuple[str, str, list[tuple[str, str]]]  # language, source, [(stdin, expected)]


# -- runners (each runs in a worker process over its share of the programs) -------------------------

def _descendants(pid: int) -> list[int]:
    found = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            children = [int(c) for c in fh.read().split()]
    except OSError:
        return found
    for child in children:
        found += [child, *_descendants(child)]
    return found


def _tree_cpu_s(pids: list[int]) -> float:
    """CPU seconds of these processes and of the children they have reaped."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def ours(share: list[Work], fresh_network: bool) -> tuple[list[float], int, float, float]:
    box = Sandbox(fresh_network_per_run=fresh_network)
    box.start()
    sandbox_pids = _descendants(box._proc.pid)  # launcher and warm parent: their reaped children are the runs
    latencies, passed = [], 0
    cpu0, tree0 = time.process_time(), _tree_cpu_s(sandbox_pids)
    start = time.perf_counter()
    for language, source, tests in share:
        with box.program(language, source) as prog:
            for stdin, expected in tests:
                t0 = time.perf_counter()
                result = prog.run(stdin=stdin)
                passed += result.ok and outputs_match(expected, result.stdout)
                latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0 + _tree_cpu_s(sandbox_pids) - tree0
    box.close()
    return latencies, passed, elapsed, cpu


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def naive(share: list[Work], _: bool) -> tuple[list[float], int, float, float]:
    latencies, passed = [], 0
    cpu0, children0 = time.process_time(), _children_cpu_s()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        for language, source, tests in share:
            for stdin, expected in tests:
                t0 = time.perf_counter()
                if language == "python":
                    with open(os.path.join(work, "main.py"), "w") as fh:
                        fh.write(source)
                    argv = [PYTHON, "main.py"]
                else:  # recompiled for every test, as a per-test service call does
                    with open(os.path.join(work, "main.cpp"), "w") as fh:
                        fh.write(source)
                    subprocess.run(["g++", "-O2", "-pipe", "-o", "main", "main.cpp"], cwd=work, check=True)
                    argv = ["./main"]
                out = subprocess.run(argv, input=stdin.encode(), capture_output=True, cwd=work, timeout=30)
                passed += out.returncode == 0 and outputs_match(expected, out.stdout.decode())
                latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    return latencies, passed, elapsed, time.process_time() - cpu0 + _children_cpu_s() - children0


def measure(runner: Callable, work: list[Work], procs: int, fresh_network: bool = False) -> dict:
    shares = [work[i::procs] for i in range(procs)]
    with mp.get_context("fork").Pool(procs) as pool:
        wall0 = time.perf_counter()
        parts = pool.starmap(runner, [(share, fresh_network) for share in shares])
        wall = time.perf_counter() - wall0
    latencies = sorted(x for lat, *_ in parts for x in lat)
    busy = max(elapsed for _, _, elapsed, _ in parts)  # excludes each worker's one-off sandbox start
    return {
        "runs": len(latencies),
        "passed": sum(p for _, p, _, _ in parts),
        "cpu_ms": sum(cpu for *_, cpu in parts) / len(latencies) * 1000,
        "per_s": len(latencies) / busy,
        "wall_s": wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def row(name: str, r: dict) -> str:
    idle = (os.cpu_count() or 1) * 1000 / r["cpu_ms"]
    return (f"| {name:<44} | {r['runs']:>5} | {r['passed']:>5} | {r['per_s']:>8.0f} | {r['p50_ms']:>7.2f} | "
            f"{r['p99_ms']:>7.2f} | {r['cpu_ms']:>7.2f} | {idle:>9.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--tests", type=int, default=10)
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--compiled", type=int, default=10, help="C++ programs for the compile-once figure")
    parser.add_argument("--fresh-network", action="store_true", help="also measure a new network namespace per run")
    args = parser.parse_args()

    header = (f"| {'runner':<44} | {'runs':>5} | {'pass':>5} | {'execs/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} "
              f"| {'CPU ms':>7} | {'cores/CPU':>9} |\n"
              f"|{'-' * 46}|{'-' * 7}|{'-' * 7}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 11}|")
    print(f"{args.procs} worker processes, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print("CPU ms = CPU time of every process involved, per execution; cores/CPU = the executions/s")
    print("that CPU cost allows on this many idle cores (the machine is shared: wall figures are noisy)\n")

    workload = [("python", python_program(i), python_tests(i, args.tests)) for i in range(args.programs)]
    trivial = [("python", "print(1)\n", [("", "1")] * args.tests) for _ in range(args.programs)]
    print(f"Python: {args.programs} programs x {args.tests} stdin/stdout tests\n\n{header}")
    o = measure(ours, workload, args.procs)
    print(row("ours (warm sandbox, full isolation)", o))
    if args.fresh_network:
        print(row("ours + new network namespace per run", measure(ours, workload, args.procs, True)))
    n = measure(naive, workload, args.procs)
    print(row("naive (fresh python3 per test, no isolation)", n))
    print(f"\nratio ours/naive: {o['per_s'] / n['per_s']:.1f}x executions/s, p50 {n['p50_ms'] / o['p50_ms']:.1f}x lower")

    print(f"\nTrivial print(1): {args.programs} programs x {args.tests} runs\n\n{header}")
    ot = measure(ours, trivial, args.procs)
    nt = measure(naive, trivial, args.procs)
    print(row("ours (warm sandbox, full isolation)", ot))
    print(row("naive (fresh python3 per test, no isolation)", nt))
    print(f"\nratio ours/naive: {ot['per_s'] / nt['per_s']:.1f}x executions/s")

    if args.compiled and shutil.which("g++"):
        cpp = [("cpp", CPP_PROGRAM % (i % 7 + 1), [(s, str(sum(int(x) for x in s.split()) * (i % 7 + 1)))
                                                    for s, _ in python_tests(i, args.tests)]) for i in range(args.compiled)]
        print(f"\nC++: {args.compiled} programs x {args.tests} tests (latency = per test, compile included)\n\n{header}")
        oc = measure(ours, cpp, args.procs)
        nc = measure(naive, cpp, args.procs)
        print(row("ours (compile once, isolated runs)", oc))
        print(row("naive (compile + run per test, no isolation)", nc))
        print(f"\nratio ours/naive: {oc['per_s'] / nc['per_s']:.1f}x tests/s")


if __name__ == "__main__":
    main()
