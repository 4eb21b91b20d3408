"""Can this host run sandboxed programs, and in which languages? Checked once per process by
starting a real sandbox; `referee serve` logs it at start and `GET /v1/sandbox/languages` serves it."""

from __future__ import annotations

import logging
import threading

from sandbox.languages import missing_toolchain, user_languages
from sandbox.session import Sandbox, SandboxError

_lock = threading.Lock()
_sandbox_problem: list[str | None] = []  # filled once: [None] when a sandbox starts here


def sandbox_problem() -> str | None:
    """Why no sandbox can start on this host (with what to install), or None when one does."""
    with _lock:
        if not _sandbox_problem:
            box = Sandbox()
            try:
                box.start()
                _sandbox_problem.append(None)
            except SandboxError as exc:
                _sandbox_problem.append(f"the sandbox cannot start: {exc}")
            finally:
                box.close()
        return _sandbox_problem[0]


def language_report() -> tuple[str | None, dict[str, str | None]]:
    """(why the sandbox cannot start or None, {language: why it cannot run or None})."""
    problem = sandbox_problem()
    return problem, {lang.name: problem or missing_toolchain(lang) for lang in user_languages()}


def log_language_report(log: logging.Logger) -> None:
    problem, languages = language_report()
    usable = [name for name, reason in languages.items() if reason is None]
    if problem:
        log.warning("sandbox: %s; no code can run (code items score as error)", problem)
    else:
        log.info("sandbox: usable languages: %s", ", ".join(usable) or "none")
        for reason in languages.values():
            if reason is not None:
                log.warning("sandbox: %s", reason)
