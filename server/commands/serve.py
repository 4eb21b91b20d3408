"""`referee serve`: the API and a local worker pool in one process (no Redis needed).

With `--redis URL` (or $REFEREE_REDIS_URL) the API queues tasks on that Redis for `referee worker`
processes on any host; `--workers 0` then runs the API alone, any other value hosts a worker too.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="run the HTTP service with an embedded worker pool")
    p.add_argument("--host", help="bind address (default 127.0.0.1, or $REFEREE_HOST)")
    p.add_argument("--port", type=int, help="port (default 8000, or $REFEREE_PORT)")
    p.add_argument("--workers", type=int, help="verifier worker processes (default: one per core; with "
                                               "--redis, 0 runs the API alone)")
    p.add_argument("--redis", dest="redis_url", help="Redis URL: scale out over `referee worker` processes "
                                                     "(or $REFEREE_REDIS_URL)")
    p.add_argument("--timeout", type=float, dest="default_timeout_s", help="default per-item deadline, seconds")
    p.add_argument("--allow-no-auth", action="store_true", default=None,
                   help="serve on a non-loopback address without API keys")
    p.add_argument("--ors-config", type=Path, help="TOML file of ORS environment options and task files")
    p.add_argument("--task-file", action="append", metavar="NAME=PATH", dest="task_files",
                   help="serve a JSONL task file as the ORS environment NAME (repeatable)")
    p.add_argument("--session-idle", type=float, dest="ors_session_idle_s",
                   help="ORS session idle expiry, seconds (default 900)")
    p.add_argument("--max-sessions", type=int, dest="ors_max_sessions", help="live ORS sessions (default 4096)")
    p.add_argument("--log-level", default="info")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app
    from server.settings import Settings

    overrides = {k: v for k, v in vars(args).items()
                 if k in Settings.model_fields and v is not None}
    if args.task_files:
        overrides["ors_task_files"] = ",".join(args.task_files)
    settings = Settings(**overrides)
    settings.check_auth_config()
    from server.ors.config import ConfigError
    try:
        app = create_app(settings)
    except ConfigError as exc:
        raise SystemExit(f"referee serve: {exc}") from None
    _log_sandbox_languages(args.log_level)
    uvicorn.run(app, host=settings.host, port=settings.port,
                log_level=args.log_level, access_log=False)
    return 0


def _log_sandbox_languages(level: str) -> None:
    """Say at start which languages `code` items and /v1/sandbox/run can use, and why not the others."""
    import logging

    from sandbox.availability import log_language_report

    log = logging.getLogger("referee.serve")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
        log.setLevel(getattr(logging, level.upper(), logging.INFO))
    log_language_report(log)
