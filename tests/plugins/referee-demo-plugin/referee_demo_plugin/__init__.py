"""Verifiers shipped by a third-party package, found through the `referee.verifiers` entry point."""

from __future__ import annotations

import ctypes
import os
import time
from typing import Any

from pydantic import BaseModel, ConfigDict

from verifiers import Context, Verdict, Verifier


class WordCountParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_words: int = 10


class WordCount(Verifier):
    """Reward 1 when the answer has at most `max_words` words."""

    name = "demo:word_count"
    version = 1
    description = "1 if the completion has at most max_words words"
    Params = WordCountParams

    def verify(self, completion: str, reference: Any, params: WordCountParams, ctx: Context) -> Verdict:
        words = len(completion.split())
        return Verdict.scored(1.0 if words <= params.max_words else 0.0, details={"words": words})


class LoopsForever(Verifier):
    name = "demo:loop"
    description = "never returns (burns CPU)"

    def verify(self, completion, reference, params, ctx):
        while True:
            pass


class Sleeps(Verifier):
    name = "demo:sleep"
    description = "sleeps for an hour"

    def verify(self, completion, reference, params, ctx):
        time.sleep(3600)
        return Verdict.scored(1.0)


class ExitsProcess(Verifier):
    name = "demo:exit"
    description = "kills its own process with os._exit"

    def verify(self, completion, reference, params, ctx):
        os._exit(3)


class Segfaults(Verifier):
    name = "demo:segfault"
    description = "dereferences a null pointer"

    def verify(self, completion, reference, params, ctx):
        ctypes.string_at(0)
        return Verdict.scored(1.0)


class EatsMemory(Verifier):
    name = "demo:memory"
    description = "allocates without bound"

    def verify(self, completion, reference, params, ctx):
        hoard = []
        while True:
            hoard.append(bytearray(64 * 2**20))


class Raises(Verifier):
    name = "demo:raise"
    description = "raises an exception"

    def verify(self, completion, reference, params, ctx):
        raise RuntimeError("scorer bug")


class ReturnsNone(Verifier):
    name = "demo:none"
    description = "forgets to return a verdict"

    def verify(self, completion, reference, params, ctx):
        return None


class ReturnsFloat(Verifier):
    name = "demo:float"
    description = "returns a bare float instead of a Verdict"

    def verify(self, completion, reference, params, ctx):
        return 1.0


class NonFiniteReward(Verifier):
    name = "demo:nonfinite"
    description = "reward NaN, inf or -inf, chosen by the completion"

    def verify(self, completion, reference, params, ctx):
        return Verdict.scored(float(completion.strip()))


class Unserialisable(Verifier):
    name = "demo:unserialisable"
    description = "details JSON cannot hold: a set, an object, a non-string key, a huge int, a cycle"

    def verify(self, completion, reference, params, ctx):
        cycle: list[Any] = []
        cycle.append(cycle)
        verdict = Verdict.scored(1.0)
        verdict.details = {"tags": {"a"}, "handle": object(), 3: "three", "big": 10**30, "cycle": cycle,
                           "fine": [1, 2]}
        return verdict


class CallsSysExit(Verifier):
    name = "demo:sys_exit"
    description = "calls sys.exit"

    def verify(self, completion, reference, params, ctx):
        raise SystemExit(0)


VERIFIERS = [WordCount, LoopsForever, Sleeps, ExitsProcess, Segfaults, EatsMemory, Raises, ReturnsNone,
             ReturnsFloat, NonFiniteReward, Unserialisable, CallsSysExit]
