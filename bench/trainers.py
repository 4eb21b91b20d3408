"""Per-rollout reward calls, as verl / OpenRLHF / slime / NeMo Gym make them, with and without the
client's micro-batching, against the same rollouts sent as one batch.

    .venv/bin/python -m bench.trainers [--rollouts 2048] [--callers 64] [--verifier math]

Starts a real `referee serve`. Each mode scores its own distinct rollouts (GRPO-shaped: `math`
answers, a quarter wrong), so neither the result cache nor in-batch dedup does the work:
- per rollout: `--callers` threads each call `verify_one` once per rollout (verl's reward workers);
- per rollout, micro-batched: the same calls through a client with `micro_batch_ms`;
- one batch: `verify(all rollouts)`.
Prints rollouts/s and each mode's share of one-batch throughput (target for micro-batched: >= 70%).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from referee_client import RefereeClient

from bench.local_server import start_server


def rollouts(count: int, salt: int, verifier: str) -> list[dict]:
    items = []
    for i in range(count):
        answer = salt * 1_000_000 + i
        given = answer + 1 if i % 4 == 0 else answer
        completion = f"Adding the parts gives {given}, so the answer is \\boxed{{{given}}}."
        items.append({"verifier": verifier, "completion": completion, "reference": str(answer)})
    return items


def per_rollout(url: str, items: list[dict], callers: int, micro_batch_ms: float | None,
                max_inflight: int = 4) -> tuple[float, list[float]]:
    with RefereeClient(url, micro_batch_ms=micro_batch_ms, max_inflight=max_inflight) as client, \
            ThreadPoolExecutor(callers) as pool:
        started = time.perf_counter()
        verdicts = list(pool.map(lambda item: client.submit(item).result(), items))
        seconds = time.perf_counter() - started
    return seconds, [v.reward for v in verdicts]


def one_batch(url: str, items: list[dict]) -> tuple[float, list[float]]:
    with RefereeClient(url) as client:
        started = time.perf_counter()
        verdicts = client.verify(items)
        seconds = time.perf_counter() - started
    return seconds, [v.reward for v in verdicts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rollouts", type=int, default=2048)
    parser.add_argument("--callers", type=int, default=256,
                        help="threads making per-rollout calls (verl's reward loop awaits a whole batch at once)")
    parser.add_argument("--micro-batch-ms", type=float, default=5.0)
    parser.add_argument("--max-inflight", type=int, default=4, help="micro-batched requests out at once")
    parser.add_argument("--verifier", default="math")
    parser.add_argument("--workers", type=int, default=None, help="server workers (default: one per core)")
    args = parser.parse_args()

    proc, url = start_server(args.workers)
    try:
        one_batch(url, rollouts(256, 99, args.verifier))  # warm the workers once, for every mode alike
        runs = {
            "per rollout (one request each)": per_rollout(url, rollouts(args.rollouts, 1, args.verifier),
                                                          args.callers, None),
            f"per rollout, micro-batched {args.micro_batch_ms:g} ms": per_rollout(
                url, rollouts(args.rollouts, 2, args.verifier), args.callers, args.micro_batch_ms, args.max_inflight),
            "one batch": one_batch(url, rollouts(args.rollouts, 3, args.verifier)),
        }
    finally:
        proc.terminate()
        proc.wait(10)

    batch_rate = args.rollouts / runs["one batch"][0]
    expected = [0.0 if i % 4 == 0 else 1.0 for i in range(args.rollouts)]
    print(f"{args.rollouts} rollouts, verifier {args.verifier}, {args.callers} callers for per-rollout modes\n")
    print(f"{'mode':<36} {'seconds':>8} {'rollouts/s':>11} {'vs one batch':>13} {'rewards right':>14}")
    for name, (seconds, rewards) in runs.items():
        rate = args.rollouts / seconds
        right = sum(r == e for r, e in zip(rewards, expected)) / args.rollouts
        print(f"{name:<36} {seconds:>8.2f} {rate:>11,.0f} {rate / batch_rate:>12.0%} {right:>14.1%}")


if __name__ == "__main__":
    main()
