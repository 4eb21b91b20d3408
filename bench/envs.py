"""Generation and scoring throughput of every environment, next to reasoning-gym's nearest tasks.

    .venv/bin/python -m pip install -e '.[bench]'      # reasoning-gym, the peer (optional)
    .venv/bin/python -m bench.envs [--seconds S] [--levels]

Generation: fresh instances (new seeds, an empty cache) at default difficulty, one process.
Scoring: the reference answer of a few cached instances scored again and again, i.e. the cost
of one `env:NAME` verification once the instance is rebuilt (what GRPO's 16 answers per
prompt pay). reasoning-gym's tasks are similar, not identical (different sizes and rules);
the ratio column says how our generator+scorer compares with the library people use today.
`--levels` also prints the mean generation time at the easiest, default and hardest configs.
`--service` also scores GRPO-shaped batches through a real `referee serve`: 64 prompts x 16
distinct completions per request (verdicts/s), for ids the server sampled itself (the built
instance travels to the worker with the job), the same ids again, and ids made in another
process (each worker generates the instance again on first use).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from envs import all_environments

# our env -> reasoning-gym dataset with the nearest task
PEERS = {
    "sudoku": "sudoku",
    "graph_colouring": "graph_color",
    "knights_knaves": "knights_knaves",
    "cryptarithm": "cryptarithm",
    "n_queens": "n_queens",
    "shortest_path": "shortest_path",
}


def rate(fn: Callable[[int], Any], seconds: float, max_calls: int = 100_000) -> tuple[float, int]:
    """Calls per second of fn(i) for i = 0, 1, ... until `seconds` have passed (at least 2 calls)."""
    start = time.perf_counter()
    calls = 0
    while calls < 2 or (time.perf_counter() - start < seconds and calls < max_calls):
        fn(calls)
        calls += 1
    return calls / (time.perf_counter() - start), calls


def ours(env: Any, seconds: float) -> tuple[float, float]:
    fresh = type(env)()  # empty cache: every sample is generated
    gen_rate, _ = rate(lambda i: fresh.sample(10_000 + i), seconds)
    instances = [env.sample(seed) for seed in range(4)]
    answers = [inst.answer_text() for inst in instances]
    assert all(env.score(inst, a).reward == 1.0 for inst, a in zip(instances, answers)), env.name
    score_rate, _ = rate(lambda i: env.score(instances[i % 4], answers[i % 4]), seconds)
    return gen_rate, score_rate


def peer(dataset_name: str, seconds: float) -> tuple[float, float] | None:
    try:
        import reasoning_gym
    except ImportError:
        return None
    dataset = reasoning_gym.create_dataset(dataset_name, size=100_000, seed=1)
    gen_rate, _ = rate(lambda i: dataset[1000 + i], seconds)
    entries = [dataset[i] for i in range(4)]
    answers = [reference_answer(entry) for entry in entries]
    assert all(dataset.score_answer(answer=a, entry=e) == 1.0 for a, e in zip(answers, entries)), dataset_name
    score_rate, _ = rate(lambda i: dataset.score_answer(answer=answers[i % 4], entry=entries[i % 4]), seconds)
    return gen_rate, score_rate


def reference_answer(entry: dict[str, Any]) -> str:
    """The peer's own correct answer (graph_color stores none, only a possible colouring)."""
    if entry["answer"] is not None:
        return entry["answer"]
    return json.dumps(entry["metadata"]["possible_answer"])


def level_times(env: Any, seeds: int) -> list[float]:
    out = []
    for level, config in env.levels().items():
        fresh = type(env)()
        start = time.perf_counter()
        for seed in range(seeds):
            fresh.sample(20_000 + seed, config)
        out.append((time.perf_counter() - start) / seeds * 1000)
    return out


def service(names: list[str], workers: int | None) -> None:
    import httpx
    import orjson

    from bench.service import start_server

    def score_rate(url: str, name: str, answers: dict[str, str], salt: int) -> float:
        items = [{"verifier": f"env:{name}", "reference": instance_id,
                  "completion": f"<think>round {salt}, attempt {k}</think>" + (answer if k % 2 else "<answer>?</answer>")}
                 for instance_id, answer in answers.items() for k in range(16)]
        start = time.perf_counter()
        response = httpx.post(f"{url}/v1/verify", content=orjson.dumps({"items": items}), timeout=600)
        rate = len(items) / (time.perf_counter() - start)
        assert sum(v["reward"] for v in response.json()["verdicts"]) == len(items) // 2, name
        return rate

    proc, url = start_server(workers)
    try:
        print("\n| env | ids sampled from this server | the same ids again | ids made elsewhere (workers rebuild) |")
        print("|---|---:|---:|---:|")
        for name in names:
            env = next(e for e in all_environments() if e.name == name)
            sampled = httpx.post(f"{url}/v1/envs/{name}/sample", json={"seed": 5_000, "n": 64}, timeout=600).json()
            here = {i["id"]: env.rebuild(i["id"]).answer_text() for i in sampled["instances"]}
            elsewhere = {inst.id: inst.answer_text() for inst in env.sample_many(9_000, 64)}
            first, again, rebuilt = score_rate(url, name, here, 1), score_rate(url, name, here, 2), \
                score_rate(url, name, elsewhere, 3)
            print(f"| {name} | {first:,.0f} | {again:,.0f} | {rebuilt:,.0f} |", flush=True)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--levels", action="store_true", help="also time generation at easiest/default/hardest")
    parser.add_argument("--level-seeds", type=int, default=3)
    parser.add_argument("--service", nargs="*", metavar="ENV",
                        help="also score through a running service (default envs: sudoku job_shop lcs)")
    parser.add_argument("--workers", type=int, default=None, help="service worker processes")
    args = parser.parse_args()

    print("| env | kind | generated/s | scored/s | reasoning-gym task | its generated/s | its scored/s | generation ratio | scoring ratio |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|")
    for env in all_environments():
        gen_rate, score_rate = ours(env, args.seconds)
        peer_name = PEERS.get(env.name)
        theirs = peer(peer_name, args.seconds) if peer_name else None
        peer_cols = (f"{peer_name} | {theirs[0]:,.0f} | {theirs[1]:,.0f} | {gen_rate / theirs[0]:.3g}x | {score_rate / theirs[1]:.3g}x"
                     if theirs else f"{peer_name or '-'} | - | - | - | -")
        print(f"| {env.name} | {env.kind} | {gen_rate:,.1f} | {score_rate:,.0f} | {peer_cols} |", flush=True)

    if args.levels:
        print("\n| env | easiest ms | default ms | hardest ms | budget: attempts x solver rlimit |")
        print("|---|---:|---:|---:|---|")
        for env in all_environments():
            easiest, default, hardest = level_times(env, args.level_seeds)
            print(f"| {env.name} | {easiest:.1f} | {default:.1f} | {hardest:.1f} | "
                  f"{env.max_attempts} x {env.solver_rlimit:,} |", flush=True)

    if args.service is not None:
        service(args.service or ["sudoku", "job_shop", "lcs"], args.workers)


if __name__ == "__main__":
    main()
