"""The `referee` command. Subcommands live in `server/commands/<name>.py`, each with `register()`."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = [
    "serve",
    "worker",
    "verify",
    "verifiers",
    "probe",
    "envs",
    "grm",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="referee", description="Verifiable rewards for RL post-training.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"server.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
