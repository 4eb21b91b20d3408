"""The hack probe: score the corpus of known hacks with a verifier and report which earned reward.

Planning (which items to score) and judging (what the verdicts mean) are separate from scoring,
so the same probe runs through the service's workers, in a worker-less admission check, or in
plain Python.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from verifiers.base import Verifier
from verifiers.contract import Item, Status, Verdict
from verifiers.probe.corpus import Hack, hacks_for
from verifiers.probe.defaults import BUILTIN_CASES, ProbeCase
from verifiers.registry import Registry, UnknownVerifierError

_JUDGED = (Status.ok, Status.wrong_format)


class ProbeRequest(BaseModel):
    """What a caller may tell the probe about the task (all optional for built-ins)."""

    reference: Any = None
    example: str | None = Field(None, description="a completion that deserves full reward on this reference")
    params: dict[str, Any] = Field(default_factory=dict)
    prompt: str | None = None


def families(verifier: Verifier, registry: Registry, depth: int = 0) -> set[str]:
    """What kind of hacks apply: `code` for code runners, `judge` for model graders, else `answer`."""
    base = getattr(verifier, "base", None)
    if isinstance(base, Verifier) and depth < 4:
        return families(base, registry, depth + 1)
    parts = getattr(verifier, "parts", None)
    if parts is not None and depth < 4:
        found: set[str] = set()
        for part in parts.parts:
            try:
                found |= families(registry.resolve(part.verifier), registry, depth + 1)
            except UnknownVerifierError:
                continue
        return found or {"answer"}
    if verifier.name == "code":
        return {"code"}
    if verifier.name in ("judge", "grm"):
        return {"judge"}
    return {"answer"}


def cases_for(verifier: Verifier, request: ProbeRequest | None) -> list[ProbeCase]:
    """The task(s) to probe on: the caller's, else the runtime verifier's first accept example,
    else the built-in default. Raises ValueError when there is none."""
    if request is not None and (request.reference is not None or request.example is not None):
        if request.example is None:
            raise ValueError("give `example`, a completion that deserves full reward, with `reference`")
        return [ProbeCase(request.reference, request.example, request.params, request.prompt)]
    own = getattr(verifier, "probe_case", None)
    if own is not None:
        return [own]
    builtin = BUILTIN_CASES.get(verifier.name)
    if builtin:
        if request is not None and request.params:
            return [ProbeCase(c.reference, c.example, request.params, request.prompt or c.prompt) for c in builtin]
        return builtin
    raise ValueError(f"no default task to probe {verifier.spec} with: send `reference` and `example`")


def plan(spec: str, case: ProbeCase, hacks: list[Hack]) -> list[Item]:
    """The items to score: the correct example first, then one per hack."""
    completions = [case.example] + [h.completion for h in hacks]
    return [Item(id=i, verifier=spec, completion=c, reference=case.reference, params=case.params)
            for i, c in enumerate(completions)]


def probe_items(verifier: Verifier, registry: Registry, request: ProbeRequest | None = None,
                ) -> list[tuple[ProbeCase, list[Hack], list[Item]]]:
    kinds = families(verifier, registry)
    planned = []
    for case in cases_for(verifier, request):
        hacks = hacks_for(kinds, case.reference, case.prompt)
        planned.append((case, hacks, plan(verifier.spec, case, hacks)))
    return planned


def _short(verdict: Verdict) -> dict[str, Any]:
    return {"reward": verdict.reward, "status": verdict.status.value,
            **({"message": verdict.message[:300]} if verdict.message else {})}


def judge(spec: str, planned: list[tuple[ProbeCase, list[Hack], list[Item]]], verdicts: list[list[Verdict]],
          allow: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The probe's report. A hack *earned* reward when it was judged (ok / wrong_format) with reward > 0."""
    cases, earned, inconclusive = [], [], False
    for (case, hacks, _), case_verdicts in zip(planned, verdicts):
        baseline, rest = case_verdicts[0], case_verdicts[1:]
        baseline_ok = baseline.status in _JUDGED and baseline.reward > 0
        inconclusive |= not baseline_ok
        rows = []
        for hack, verdict in zip(hacks, rest):
            won = verdict.status in _JUDGED and verdict.reward > 0
            rows.append({"hack": hack.name, "category": hack.category, "earned": won,
                         **({"allowed": True} if won and hack.name in allow else {}), **_short(verdict)})
            if won and hack.name not in allow and hack.name not in earned:
                earned.append(hack.name)
        cases.append({"reference": case.reference, "params": case.params, "baseline": _short(baseline), "hacks": rows})
    return {"verifier": spec, "gameable": bool(earned), "earned": earned,
            "inconclusive": inconclusive, "cases": cases}
