"""`referee worker`: run verification tasks for the API processes that share a Redis.

Start as many as you like, on any host that can reach Redis and has the same Referee version and
plugins (the registry fingerprint must match the API's). SIGTERM or Ctrl-C: finish the chunks in
hand, then exit; what is left is taken over by the other workers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("worker", help="run verifier tasks from a shared Redis (scale-out)")
    p.add_argument("--redis", dest="redis_url", help="Redis URL, e.g. redis://host:6379/0 (or $REFEREE_REDIS_URL)")
    p.add_argument("--processes", type=int, dest="workers",
                   help="verifier processes on this host (default: one per core, or $REFEREE_WORKERS)")
    p.add_argument("--visibility", type=float, dest="redis_visibility_s",
                   help="seconds after which the tasks of a silent worker are taken over (default 30)")
    p.add_argument("--log-level", default="info")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from server.settings import Settings

    overrides = {k: v for k, v in vars(args).items() if k in Settings.model_fields and v is not None}
    settings = Settings(**overrides)
    if not settings.redis_url:
        raise SystemExit("referee worker needs a Redis: pass --redis URL or set REFEREE_REDIS_URL")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop  # installed with uvicorn[standard]; the pool's pipes are cheaper to drive on it
    except ImportError:
        asyncio.run(serve_worker(settings))
    else:
        uvloop.run(serve_worker(settings))
    return 0


async def serve_worker(settings: "Settings") -> None:  # noqa: F821 (imported lazily above)
    from server.service import registration_store
    from verifiers.custom.catalog import RuntimeVerifiers
    from verifiers.registry import default_registry
    from verifiers.runtime.pool import ProcessPool
    from verifiers.runtime.redis import Keys, RedisWorker

    registry = default_registry()
    # Runtime-registered verifiers, from Redis (where the API stores them), followed on every heartbeat.
    custom = RuntimeVerifiers(registry, registration_store(settings))
    try:
        custom.sync()
    except Exception as exc:  # Redis down at start: the heartbeat applies them once it is back
        logging.getLogger("referee.worker").warning("runtime verifiers not applied yet: %s", exc)
    pool = ProcessPool(settings.workers, memory_limit_mb=settings.worker_memory_mb, registry=registry,
                       max_pending=1 << 30,  # the worker bounds what it takes from the queue itself
                       verifier_store=custom.store.location)
    await pool.start()
    worker = RedisWorker(settings.redis_url or "", pool, registry, processes=pool.size, refresh=custom.sync,
                         keys=Keys(settings.redis_prefix), visibility_s=settings.redis_visibility_s,
                         max_attempts=settings.redis_max_attempts)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
    logging.getLogger("referee.worker").info("worker %s: %d processes, registry %s, Redis %s",
                                             worker.id, pool.size, registry.fingerprint, settings.redis_url)
    try:
        await worker.run()
    finally:
        await pool.close()
