"""`python -m server.grm serve|convert ...`: the same as `referee grm serve|convert ...`."""

from __future__ import annotations

import argparse
import sys

from server.commands.grm import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.grm")
    register(parser.add_subparsers(dest="command", required=True))
    # `register` adds the `grm` command; accept both `python -m server.grm serve` and `... grm serve`.
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "grm":
        argv = ["grm", *argv]
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
