"""`referee envs list|sample|export`: procedural environments from the command line.

    referee envs list
    referee envs sample sudoku --seed 7 --n 2 --config '{"size": 4}'
    referee envs sample sudoku --url http://127.0.0.1:8000             # ask a running server
    referee envs export sudoku --n 1000 -o sudoku.jsonl     # prompt, id and reference, for offline use
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from verifiers.validation import first_error


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("envs", help="list, sample and export procedural environments")
    sub = p.add_subparsers(dest="envs_command", required=True)

    listing = sub.add_parser("list", help="environments with their versions and difficulty knobs")
    listing.add_argument("--json", action="store_true", help="full descriptions with config schemas")
    _add_server_options(listing)
    listing.set_defaults(handler=run_list)

    for name, help_text, handler in (("sample", "print instances (prompt and id, no reference) as JSONL", run_sample),
                                     ("export", "write instances with their references to a JSONL file", run_export)):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("env", help="environment name, e.g. sudoku")
        cmd.add_argument("--seed", type=int, default=0, help="seed of the first instance (the i-th gets seed + i)")
        cmd.add_argument("--n", type=int, default=1 if name == "sample" else None, required=name == "export",
                         help="number of instances")
        cmd.add_argument("--config", type=_json_object, default={}, help="difficulty knobs as a JSON object")
        if name == "export":  # references never leave a server: exports are made locally
            cmd.add_argument("-o", "--output", type=Path, required=True, help="JSONL file to write")
            cmd.add_argument("--quiet", action="store_true", help="no progress bar")
        else:
            _add_server_options(cmd)
        cmd.set_defaults(handler=handler)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('expected a JSON object, e.g. \'{"size": 4}\'')
    return value


def _add_server_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--url", help="ask a running server instead of generating locally")
    cmd.add_argument("--api-key", help="bearer token for --url (or $REFEREE_API_KEY)")


def _server_call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    import httpx

    key = args.api_key or os.environ.get("REFEREE_API_KEY")
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.request(method, args.url.rstrip("/") + path, json=body, headers=headers, timeout=600)
    except httpx.TransportError as exc:
        raise SystemExit(f"cannot reach {args.url}: {exc}") from None
    if response.status_code != 200:
        raise SystemExit(f"{args.url}{path}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


def _environment_and_config(args: argparse.Namespace) -> tuple[Any, Any]:
    from pydantic import ValidationError

    from envs import UnknownEnvironmentError, get_environment

    try:
        env = get_environment(args.env)
    except UnknownEnvironmentError as exc:
        raise SystemExit(str(exc)) from None
    try:
        config = env.parse_config(args.config)
    except ValidationError as exc:
        raise SystemExit(f"bad config for {env.spec}: {first_error(exc, 'config')}") from None
    if args.seed < 0 or (args.n is not None and args.n < 1):
        raise SystemExit("--seed must be >= 0 and --n >= 1")
    return env, config


def run_list(args: argparse.Namespace) -> int:
    if args.url:
        described = _server_call(args, "GET", "/v1/envs")["envs"]
    else:
        from envs import all_environments

        described = [env.describe() for env in all_environments()]
    if args.json:
        print(json.dumps(described, indent=2))
        return 0
    for env in described:
        knobs = ", ".join(f"{k}={v.get('default')}" for k, v in env["config_schema"]["properties"].items())
        print(f"{env['spec']:<24} {env['kind']:<6} {env['description']}\n{'':<31} knobs: {knobs}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    if args.url:
        body = {"seed": args.seed, "n": args.n, "config": args.config}
        for public in _server_call(args, "POST", f"/v1/envs/{args.env}/sample", body)["instances"]:
            print(json.dumps(public))
        return 0
    env, config = _environment_and_config(args)
    for inst in env.sample_many(args.seed, args.n, config):
        print(json.dumps(inst.public()))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from envs import GenerationBudgetExceeded

    env, config = _environment_and_config(args)
    with args.output.open("w") as out:
        for i in tqdm(range(args.n), unit="instance", desc=env.name, disable=args.quiet, file=sys.stderr):
            try:
                inst = env.sample(args.seed + i, config)
            except GenerationBudgetExceeded as exc:
                raise SystemExit(str(exc)) from None
            row = {"id": inst.id, "prompt": inst.prompt, "verifier": f"env:{env.name}",
                   "reference": inst.solution, "answer": inst.answer_text(), "metadata": inst.metadata}
            out.write(json.dumps(row) + "\n")
    print(f"wrote {args.n} {env.spec} instances to {args.output}", file=sys.stderr)
    return 0
