"""Math rewards on a GRPO-shaped workload: Math-Verify vs Referee's `math`, same items, same run.

    .venv/bin/python -m bench.math              # 128 prompts x 16 samples (~2-3 minutes)
    .venv/bin/python -m bench.math --quick      # 32 x 16
    .venv/bin/python -m bench.math --prompts 512 --samples 16

Math-Verify is used the common way: per item `verify(parse(gold), parse(completion))` with its
defaults (its own 5 s signal timeouts, main thread), one process. Referee is measured through
its in-process batch API, through the worker pool (`LocalScorer`) and through HTTP (`referee
serve` on loopback). Each scorer starts cold (no cache shared between scorers or with a
previous run). Prints accuracy against the labels and the throughput ratio.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from collections.abc import Callable

from bench.local_server import start_server
from bench.math_workload import Sample, generate

Scorer = Callable[[list[Sample]], list[tuple[int, float]]]  # -> (label, elapsed ms) per sample


def score_math_verify(samples: list[Sample]) -> list[tuple[int, float]]:
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # it logs every timeout
    out = []
    for s in samples:
        t0 = time.perf_counter()
        try:
            ok = verify(parse(f"${s.reference}$"), parse(s.completion))
        except Exception:  # noqa: BLE001 - count a crash as "not correct", as a trainer would
            ok = False
        out.append((int(bool(ok)), (time.perf_counter() - t0) * 1000))
    return out


def score_in_process(samples: list[Sample]) -> list[tuple[int, float]]:
    from verifiers.math_verifier import verify_batch

    verdicts = verify_batch([s.completion for s in samples], [s.reference for s in samples])
    return [(int(v.reward == 1.0), v.elapsed_ms) for v in verdicts]


def _items(samples: list[Sample]) -> list[dict]:
    return [{"verifier": "math", "completion": s.completion, "reference": s.reference} for s in samples]


def score_pool(samples: list[Sample], workers: int | None) -> tuple[list[tuple[int, float]], float]:
    """Pool start-up is not timed (a trainer keeps the pool for the whole run); scoring is."""
    from verifiers.runtime import LocalScorer

    with LocalScorer(workers=workers, timeout_s=10.0) as scorer:
        scorer.score([{"verifier": "math", "completion": "\\boxed{1}", "reference": "1"}])
        started = time.perf_counter()
        verdicts = scorer.score(_items(samples))
        seconds = time.perf_counter() - started
    return [(int(v.reward == 1.0), v.elapsed_ms) for v in verdicts], seconds


def score_http(url: str, samples: list[Sample]) -> list[tuple[int, float]]:
    from referee_client import RefereeClient

    with RefereeClient(url, batch_size=4096) as client:
        verdicts = client.verify(_items(samples))
    return [(int(v.reward == 1.0), v.elapsed_ms) for v in verdicts]


def timed(fn: Callable[[], list[tuple[int, float]]]) -> tuple[list[tuple[int, float]], float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def report(name: str, samples: list[Sample], result: list[tuple[int, float]], seconds: float,
           baseline_rate: float | None) -> float:
    right = sum(int(got == s.label) for s, (got, _) in zip(samples, result))
    rate = len(samples) / seconds
    slowest = max(ms for _, ms in result)
    ratio = f"{rate / baseline_rate:7.1f}x" if baseline_rate else "     1x"
    print(f"{name:<28} {right / len(samples):>8.2%} {rate:>11,.0f} {seconds:>9.2f} {slowest:>10.1f} {ratio}")
    return rate


def per_kind(samples: list[Sample], results: dict[str, list[tuple[int, float]]]) -> None:
    kinds = sorted(Counter(s.kind for s in samples))
    print(f"\n{'accuracy by kind':<28}" + "".join(f"{k:>14}" for k in kinds))
    for name, result in results.items():
        cells = []
        for kind in kinds:
            pairs = [(s, r) for s, r in zip(samples, result) if s.kind == kind]
            cells.append(f"{sum(int(r[0] == s.label) for s, r in pairs) / len(pairs):>14.1%}")
        print(f"{name:<28}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="32 prompts")
    parser.add_argument("--workers", type=int, default=None, help="pool / server workers (default: one per core)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurement")
    args = parser.parse_args()
    prompts = 32 if args.quick else args.prompts
    samples = generate(prompts, args.samples, args.seed)
    kinds = Counter(s.kind for s in samples)
    print(f"{len(samples)} items = {prompts} prompts x {args.samples} samples; "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))

    server = None if args.no_http else start_server(args.workers)
    try:
        print(f"\n{'scorer':<28} {'accuracy':>8} {'items/s':>11} {'seconds':>9} {'max ms':>10} {'vs MV':>8}")
        results: dict[str, list[tuple[int, float]]] = {}
        result, seconds = timed(lambda: score_math_verify(samples))
        base = report("math-verify (per item)", samples, result, seconds, None)
        results["math-verify"] = result
        calm = [ms for s, (_, ms) in zip(samples, result) if s.kind != "pathological"]
        calm_rate = len(calm) / (sum(calm) / 1000)
        print(f"{'  same, pathological left out':<28} {'':>8} {calm_rate:>11,.0f}   (from its per-item times)")
        result, seconds = timed(lambda: score_in_process(samples))
        report("referee batch, in-process", samples, result, seconds, base)
        results["referee in-process"] = result
        result, seconds = score_pool(samples, args.workers)
        report("referee LocalScorer pool", samples, result, seconds, base)
        results["referee pool"] = result
        if server is not None:
            result, seconds = timed(lambda: score_http(server[1], samples))
            report("referee HTTP /v1/verify", samples, result, seconds, base)
            results["referee HTTP"] = result
        per_kind(samples, results)
    finally:
        if server is not None:
            server[0].terminate()
            server[0].wait()


if __name__ == "__main__":
    main()
