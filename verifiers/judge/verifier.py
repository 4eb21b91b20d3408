"""`judge`: an LLM judge behind any OpenAI-compatible chat-completions server.

The item names a judge configured on the server (see `verifiers.judge.config`) and a mode
(rubric, principles, reference, pairwise); k samples are voted into one reward. A judge that
cannot be reached, times out or replies with no readable verdict gives status `error` or
`timeout` with the reason — never a reward of 0 that looks like a judgement.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Mapping
from typing import Any

from verifiers.asyncbridge import run_blocking
from verifiers.base import Context, Verifier
from verifiers.contract import Status, Verdict
from verifiers.judge.client import ChatReply, ChatRequest, JudgeCallError, JudgeClient
from verifiers.judge.config import JudgeConfig, JudgeConfigError, config_signature, load_judge_configs
from verifiers.judge.modes import MODES, Ask
from verifiers.judge.params import JudgeParams, JudgeReference
from verifiers.judge.parsing import critique_of, find_json_object, reply_text
from verifiers.text import after_reasoning

CRITIQUE_CHARS = 1000
REPLY_EXCERPT_CHARS = 500


class JudgeVerifier(Verifier):
    name = "judge"
    version = 2
    description = ("LLM judge over an OpenAI-compatible server: rubric score, yes/no principles, "
                   "reference equivalence or position-swapped pairwise comparison, with k-sample voting.")
    Params = JudgeParams
    is_async = True

    def __init__(self, configs: Mapping[str, JudgeConfig] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        """`configs` fixes the judges; without it they are read from the environment (and re-read
        when `REFEREE_JUDGES`' file or the `REFEREE_JUDGE_*` variables change)."""
        self._fixed = {c.name: c for c in configs.values()} if configs is not None else None
        self._environ = environ
        self._signature: Any = object()
        self._configs: dict[str, JudgeConfig] = {}
        self._clients: dict[str, JudgeClient] = {}
        self._lock = threading.Lock()

    def __reduce__(self) -> Any:
        # Configuration only: clients, locks and caches are per process.
        environ = dict(self._environ) if self._environ is not None else None
        return (JudgeVerifier, (self._fixed, environ))

    def config_key(self, params: JudgeParams) -> str:
        """The judge's settings that shape its replies (server, model, sampling, extra body);
        an edit of any of them must not serve verdicts cached under the old one."""
        try:
            config = self.judges().get(params.judge)
        except JudgeConfigError as exc:
            return f"unusable: {exc}"[:200]
        if config is None:
            return "unknown judge"
        shaping = config.model_dump(include={"base_url", "model", "json_mode", "temperature",
                                             "sampling_temperature", "max_tokens", "seed", "extra_body"})
        return hashlib.blake2b(repr(sorted(shaping.items())).encode(), digest_size=10).hexdigest()

    # -- judges --------------------------------------------------------------------------------
    def judges(self) -> dict[str, JudgeConfig]:
        """The configured judges; raises JudgeConfigError if the configuration is unusable."""
        if self._fixed is not None:
            return self._fixed
        signature = config_signature(self._environ)
        if signature != self._signature:
            with self._lock:
                self._configs = load_judge_configs(self._environ)
                self._signature = signature
        return self._configs

    def client(self, name: str) -> JudgeClient:
        configs = self.judges()
        config = configs.get(name)
        if config is None:
            raise JudgeConfigError(_unknown_judge(name, configs))
        with self._lock:
            client = self._clients.get(name)
            if client is None or client.config != config:  # new or edited: start afresh
                client = self._clients[name] = JudgeClient(config)
        return client

    # -- the verifier contract -----------------------------------------------------------------------
    def check_reference(self, reference: Any, params: JudgeParams) -> Any:
        ref = JudgeReference.from_raw(reference, params.mode)
        try:
            configs = self.judges()
        except JudgeConfigError:
            configs = None  # a broken server configuration is reported as `error` when scoring
        if configs is not None and params.judge not in configs:
            raise ValueError(_unknown_judge(params.judge, configs))
        return ref.model_dump(exclude_none=True)

    async def averify(self, completion: str, reference: Any, params: JudgeParams, ctx: Context) -> Verdict:
        ref = JudgeReference.from_raw(reference, params.mode)
        try:
            client = self.client(params.judge)
        except JudgeConfigError as exc:
            return Verdict.failed(Status.error, str(exc))
        remaining = ctx.remaining()
        # finish a little before the caller's own cut-off, so the verdict carries our reason
        deadline = ctx.deadline - min(0.05, 0.02 * remaining)
        asks, samples = self.requests(client, completion, ref, params)
        flat = [req for sample in samples for req in sample]
        if len(flat) == 1:  # the common case needs no gather
            results = [await _call(client, flat[0], deadline)]
        else:
            results = list(await asyncio.gather(*(_call(client, req, deadline) for req in flat)))
        per_sample = [results[i * len(asks):(i + 1) * len(asks)] for i in range(params.samples)]
        return self._decide(client, params, params.mode, asks, samples, per_sample)

    def requests(self, client: JudgeClient, completion: str, ref: JudgeReference,
                 params: JudgeParams) -> tuple[list[Ask], list[list[ChatRequest]]]:
        """What one item asks the judge: per sample (k of them), one request per ask of the mode."""
        mode = MODES[params.mode]
        response = after_reasoning(completion) if params.after_reasoning else completion
        asks = mode.asks(params, ref, response)
        cfg = client.config
        temperature = params.temperature if params.temperature is not None else (
            cfg.temperature if params.samples == 1 else cfg.sampling_temperature)
        samples = [
            [ChatRequest(messages=ask.messages, temperature=temperature,
                         max_tokens=params.max_tokens or cfg.max_tokens,
                         seed=None if cfg.seed is None else cfg.seed + i, schema=ask.schema,
                         schema_name=f"{mode.name}_verdict", variant=i)
             for ask in asks]
            for i in range(params.samples)
        ]
        return asks, samples

    def verify(self, completion: str, reference: Any, params: JudgeParams, ctx: Context) -> Verdict:
        """Blocking form for the in-process Python API: runs `averify` on a private event loop."""
        async def run() -> Verdict:
            try:
                return await self.averify(completion, reference, params, ctx)
            finally:
                for client in list(self._clients.values()):
                    await client.aclose()

        return run_blocking(run)

    # -- from replies to a verdict --------------------------------------------------------------------
    def _decide(self, client: JudgeClient, params: JudgeParams, mode_name: str, asks: list[Ask],
                requests: list[list[ChatRequest]], per_sample: list[list[ChatReply | JudgeCallError]]) -> Verdict:
        mode = MODES[mode_name]
        replies = [r for sample in per_sample for r in sample if isinstance(r, ChatReply)]
        failures = [r for sample in per_sample for r in sample if isinstance(r, JudgeCallError)]
        usage = {k: sum(r.usage.get(k, 0) for r in replies) for k in ("prompt_tokens", "completion_tokens",
                                                                        "total_tokens")}
        details: dict[str, Any] = {
            "judge": client.config.name,
            "model": client.config.model,
            "mode": mode_name,
            "vote": params.vote,
            "usage": usage,
            "calls": len(replies) + len(failures),
            "cache_hits": sum(r.cached for r in replies),
            "retries": sum(r.retries for r in replies) + sum(f.retries for f in failures),
            "json_mode": replies[0].json_mode if replies else client.json_mode,
            # time in the HTTP call that answered, slowest of the item's calls (they run concurrently)
            "judge_latency_ms": max((r.latency_ms for r in replies), default=0.0),
        }
        values: list[Any] = []
        sample_details: list[dict[str, Any]] = []
        unreadable: list[str] = []
        for sample, reqs in zip(per_sample, requests):
            if any(isinstance(r, JudgeCallError) for r in sample):
                sample_details.append({"error": next(r.reason for r in sample if isinstance(r, JudgeCallError))})
                continue
            texts = [r.text for r in sample]  # type: ignore[union-attr]
            value = mode.read(texts, params)
            entry: dict[str, Any] = {}
            critiques = [c for t in texts if (c := critique_of(find_json_object(reply_text(t), "critique")))]
            if critiques:
                entry["critique"] = " | ".join(c[:CRITIQUE_CHARS] for c in critiques)
            if value is None:
                for req in reqs:  # do not keep serving a reply nobody could read
                    client.forget(req)
                entry["unreadable_reply"] = " || ".join(t[:REPLY_EXCERPT_CHARS] for t in texts)
                unreadable.append(entry["unreadable_reply"])
                if any(r.finish_reason == "length" for r in sample):  # type: ignore[union-attr]
                    entry["truncated"] = True
            else:
                entry["verdict"] = value
                values.append(value)
            sample_details.append(entry)
        details["samples"] = sample_details
        details["valid_samples"] = len(values)
        cached = bool(replies) and not failures and all(r.cached for r in replies)

        needed = params.needed_valid
        if len(values) < needed:
            if failures:
                status = Status.timeout if all(f.status == Status.timeout for f in failures) else Status.error
                first = next(f for f in failures if f.status == status)
                message = (f"judge {client.config.name!r}: {len(failures)} of {details['calls']} calls failed "
                           f"({len(values)} usable samples, need {needed}): {first.reason}")
                return Verdict.failed(status, message, details=details)
            hint = " (the reply hit max_tokens)" if any(s.get("truncated") for s in sample_details) else ""
            message = (f"judge {client.config.name!r} replied, but no {mode_name} verdict could be read from "
                       f"{len(unreadable)} of {params.samples} samples{hint} (need {needed}); "
                       f"reply: {unreadable[0][:200]!r}")
            return Verdict.failed(Status.error, message, details=details)

        outcome = mode.combine(values, params)
        details.update(outcome.summary)
        return Verdict.scored(outcome.reward, components=outcome.components, details=details, cached=cached)


def _unknown_judge(name: str, configs: Mapping[str, JudgeConfig]) -> str:
    known = ", ".join(sorted(configs)) or "none (set REFEREE_JUDGES, or REFEREE_JUDGE_<NAME>_BASE_URL and _MODEL)"
    return f"unknown judge {name!r}; configured: {known}"


async def _call(client: JudgeClient, request: ChatRequest, deadline: float) -> ChatReply | JudgeCallError:
    try:
        return await client.chat(request, deadline)
    except JudgeCallError as exc:
        return exc
