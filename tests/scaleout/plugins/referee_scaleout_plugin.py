"""Verifiers for the scale-out tests, loaded by name through $REFEREE_PLUGINS."""

from __future__ import annotations

import os
import signal
import time

from pydantic import BaseModel

from verifiers import Verdict, Verifier


class NapParams(BaseModel):
    seconds: float = 0.2


class Nap(Verifier):
    """Sleeps, then rewards 1: slow enough work to kill a worker in the middle of it."""

    name = "scaleout:nap"
    description = "sleeps `seconds`, then 1"
    Params = NapParams

    def verify(self, completion, reference, params, ctx):
        time.sleep(params.seconds)
        return Verdict.scored(1.0, details={"pid": os.getpid()})


class KillsItsWorker(Verifier):
    """Kills the whole process group it runs in: the worker host, not only its pool process."""

    name = "scaleout:kill-worker"
    description = "SIGKILLs its worker's process group"

    def verify(self, completion, reference, params, ctx):
        os.killpg(os.getpgrp(), signal.SIGKILL)
        return Verdict.scored(1.0)


VERIFIERS = [Nap, KillsItsWorker]
