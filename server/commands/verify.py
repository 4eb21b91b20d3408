"""`referee verify IN.jsonl -o OUT.jsonl`: score a file of items, locally or against a server."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import orjson

from verifiers.validation import first_error


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("verify", help="score a JSONL file of items")
    p.add_argument("input", type=Path, help="JSONL file, one item per line ('-' for stdin)")
    p.add_argument("-o", "--output", type=Path, help="JSONL file of verdicts (default: stdout)")
    p.add_argument("--url", help="score against this server instead of a local worker pool")
    p.add_argument("--api-key", help="bearer token for --url (or $REFEREE_API_KEY)")
    p.add_argument("--timeout", type=float, help="per-item deadline in seconds")
    p.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def _read_items(path: Path) -> list[dict]:
    handle = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    items = []
    with handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    items.append(orjson.loads(line))
                except orjson.JSONDecodeError as exc:
                    raise SystemExit(f"{path}:{number}: not valid JSON: {exc}") from None
    return items


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from verifiers.contract import Item

    items = _read_items(args.input)
    progress = tqdm(total=len(items), unit="item", disable=args.quiet, file=sys.stderr)
    if args.url:
        from referee_client import RefereeClient

        from verifiers.contract import Verdict

        with RefereeClient(args.url, api_key=args.api_key, batch_size=args.batch_size) as client:
            answered = client.verify(items, timeout_s=args.timeout, on_progress=progress.update)
        verdicts = [Verdict.model_validate(v.to_dict()) for v in answered]
    else:
        from pydantic import ValidationError

        from verifiers.contract import Status, Verdict
        from verifiers.runtime import LocalScorer

        verdicts = []
        with LocalScorer(workers=args.workers) as scorer:
            for start in range(0, len(items), args.batch_size):
                batch = items[start:start + args.batch_size]
                parsed, bad = [], {}
                for i, raw in enumerate(batch):
                    try:
                        parsed.append(Item.model_validate(raw))
                    except ValidationError as exc:
                        bad[i] = Verdict.failed(Status.invalid_input, f"invalid item: {first_error(exc)}")
                scored = iter(scorer.score(parsed, timeout_s=args.timeout))
                verdicts.extend(bad[i] if i in bad else next(scored) for i in range(len(batch)))
                progress.update(len(batch))
    progress.close()

    out = args.output.open("wb") if args.output else sys.stdout.buffer
    with out:
        for verdict in verdicts:
            out.write(verdict.model_dump_json().encode() + b"\n")
    statuses = Counter(v.status.value for v in verdicts)
    mean = sum(v.reward for v in verdicts) / len(verdicts) if verdicts else 0.0
    summary = ", ".join(f"{k}={n}" for k, n in sorted(statuses.items()))
    print(f"{len(verdicts)} items  mean reward {mean:.4f}  {summary}", file=sys.stderr)
    return 0
