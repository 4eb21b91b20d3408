"""`referee verifiers`: list the registry (local, or a server's with --url)."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("verifiers", help="list available verifiers")
    p.add_argument("--url", help="ask a running server instead of the local registry")
    p.add_argument("--api-key", help="bearer token for --url (or $REFEREE_API_KEY)")
    p.add_argument("--json", action="store_true", help="print the full description with params schemas")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.url:
        from referee_client import RefereeClient

        with RefereeClient(args.url, api_key=args.api_key) as client:
            described = client.verifiers()
    else:
        from verifiers.registry import default_registry

        described = default_registry().describe()
    if args.json:
        print(json.dumps(described, indent=2))
        return 0
    width = max((len(v["spec"]) for v in described), default=10)
    for v in described:
        print(f"{v['spec']:<{width}}  {v['description']}")
    return 0
