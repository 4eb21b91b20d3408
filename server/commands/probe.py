"""`referee probe VERIFIER`: try known reward hacks on a verifier and show which earned reward."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("probe", help="try known reward hacks on a verifier (local, or a server's)")
    p.add_argument("verifier", help="NAME or NAME@VERSION")
    p.add_argument("--url", help="probe on a running server (needed for runtime-registered verifiers)")
    p.add_argument("--api-key", help="bearer token for --url (or $REFEREE_API_KEY)")
    p.add_argument("--reference", type=json.loads, help="the task's reference, as JSON")
    p.add_argument("--example", help="a completion that deserves full reward on that reference")
    p.add_argument("--params", type=json.loads, help="verifier params, as JSON")
    p.add_argument("--prompt", help="the task's prompt (adds the echo-the-prompt hack)")
    p.add_argument("--json", action="store_true", help="print the whole report")
    p.set_defaults(handler=run)


def _local_probe(args: argparse.Namespace, task: dict[str, Any]) -> dict[str, Any]:
    from verifiers.batching import score_items
    from verifiers.probe import ProbeRequest, judge, probe_items
    from verifiers.registry import default_registry

    registry = default_registry()
    verifier = registry.resolve(args.verifier)
    planned = probe_items(verifier, registry, ProbeRequest(**task) if task else None)
    return judge(verifier.spec, planned, [score_items(items, registry, 30.0) for _, _, items in planned])


def run(args: argparse.Namespace) -> int:
    task = {k: v for k, v in {"reference": args.reference, "example": args.example, "params": args.params,
                              "prompt": args.prompt}.items() if v is not None}
    try:
        if args.url:
            from server.client import RefereeClient

            with RefereeClient(args.url, api_key=args.api_key, max_retries=0) as client:
                report = client.probe(args.verifier, **task)
        else:
            report = _local_probe(args, task)
    except Exception as exc:  # noqa: BLE001 - a CLI reports, it does not print tracebacks
        print(f"probe failed: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return 1 if report["gameable"] else 0


def render(report: dict[str, Any]) -> str:
    lines = []
    for case in report["cases"]:
        base = case["baseline"]
        lines.append(f"{report['verifier']}  reference={json.dumps(case['reference'])[:60]}  "
                     f"example: {base['status']} {base['reward']:g}")
        for row in case["hacks"]:
            mark = "EARNED" if row["earned"] else "-"
            lines.append(f"  {row['hack']:<32} {row['category']:<12} {row['status']:<13} {row['reward']:>6.3g}  {mark}")
    verdict = "gameable: " + (", ".join(report["earned"]) if report["gameable"] else "no hack earned reward")
    if report.get("inconclusive"):
        verdict += " (inconclusive: the example itself earned no reward)"
    lines.append(verdict)
    return "\n".join(lines)
