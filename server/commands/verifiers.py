"""`referee verifiers`: list the registry; `add` / `rm` runtime verifiers on a running server."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("verifiers", help="list verifiers; add or retire runtime verifiers")
    p.add_argument("--url", help="ask a running server instead of the local registry")
    p.add_argument("--api-key", help="bearer token for --url (or $REFEREE_API_KEY)")
    p.add_argument("--json", action="store_true", help="print the full description with params schemas")
    p.set_defaults(handler=run)
    actions = p.add_subparsers(dest="action")
    add = actions.add_parser("add", help="register a verifier from a JSON spec (golden examples included)")
    add.add_argument("spec", type=Path, help="the registration: a JSON file")
    rm = actions.add_parser("rm", help="retire NAME@VERSION; items naming it are refused afterwards")
    rm.add_argument("verifier", help="NAME@VERSION")
    rm.add_argument("--reason", help="the message items naming it get")
    for sub in (add, rm):
        sub.add_argument("--url", default=DEFAULT_URL, help=f"the server (default {DEFAULT_URL})")
        sub.add_argument("--admin-key", help="admin token (or $REFEREE_ADMIN_KEY)")
    add.set_defaults(handler=run_add)
    rm.set_defaults(handler=run_rm)


def _admin_client(args: argparse.Namespace):  # noqa: ANN202 - imported lazily
    from server.client import RefereeClient

    return RefereeClient(args.url, api_key=args.admin_key or os.environ.get("REFEREE_ADMIN_KEY"), max_retries=0)


def run_add(args: argparse.Namespace) -> int:
    from server.client import RefereeError

    try:
        spec = json.loads(args.spec.read_text())
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.spec}: {exc}", file=sys.stderr)
        return 2
    with _admin_client(args) as client:
        try:
            report = client.register_verifier(spec)
        except RefereeError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            report = getattr(exc, "report", None)
            if report:
                print(json.dumps(report, indent=2))
            return 1
    print(json.dumps(report, indent=2))
    print(f"registered {report['spec']} ({report['source_hash']})", file=sys.stderr)
    return 0


def run_rm(args: argparse.Namespace) -> int:
    from server.client import RefereeError

    with _admin_client(args) as client:
        try:
            answer = client.retire_verifier(args.verifier, args.reason)
        except RefereeError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
    print(f"retired {answer['retired']}: {answer['reason']}", file=sys.stderr)
    return 0


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
