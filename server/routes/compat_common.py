"""What the trainer-compatible endpoints share: turning a trainer's row into an `Item`, and scoring.

Trainers (OpenRLHF, slime, NeMo Gym) send a label per rollout. A label is the reference, or a
JSON object `{"verifier", "reference", "params"}` that names its own verifier: one dataset can
then mix math, code and environment rows behind one URL.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from fastapi import HTTPException, Request
from pydantic import ValidationError

from verifiers.contract import Item, Status, Verdict
from verifiers.runtime import Overloaded
from server.routes.deps import service_of

# Statuses that carry no real reward (DESIGN §8); the compat shapes have no masking, so they
# answer 0 and count these, or fail the request when the caller asks for that.
UNSCORABLE = (Status.timeout, Status.error, Status.invalid_input)
LABEL_KEYS = frozenset({"verifier", "reference", "params"})


def query_params_json(raw: str | None) -> dict[str, Any]:
    """`params=JSON` from a query string: a JSON object, or a 422 naming the problem."""
    if raw is None or raw == "":
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(422, f"params is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise HTTPException(422, "params must be a JSON object")
    return value


def label_spec(label: Any) -> dict[str, Any] | None:
    """The `{verifier, reference, params}` object a label carries, if it is one (a dict or its JSON)."""
    if isinstance(label, str) and label.lstrip().startswith("{"):
        try:
            label = orjson.loads(label)
        except orjson.JSONDecodeError:
            return None
    if isinstance(label, dict) and label and set(label) <= LABEL_KEYS and ("verifier" in label or "reference" in label):
        return label
    return None


def item_for(completion: str, label: Any, verifier: str | None, params: dict[str, Any]) -> Item | Verdict:
    """The item to score for one row, or a verdict saying why the row cannot be scored."""
    spec = label_spec(label)
    reference = spec.get("reference") if spec is not None else label
    name = (spec or {}).get("verifier") or verifier
    merged = params | ((spec or {}).get("params") or {})
    if not name:
        return Verdict.failed(Status.invalid_input, "no verifier: pass ?verifier=NAME or a label "
                                                    '{"verifier": ..., "reference": ...}')
    try:
        return Item(verifier=name, completion=completion, reference=reference, params=merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        return Verdict.failed(Status.invalid_input, f"invalid row: {'.'.join(map(str, err['loc']))}: {err['msg']}")


async def score_rows(request: Request, rows: list[Item | Verdict], timeout_s: float | None = None) -> list[Verdict]:
    """Score the rows that became items; rows that did not keep their verdict. Order is kept."""
    service = service_of(request)
    settings = service.settings
    if not service.executor.ready():
        raise HTTPException(503, "no verifier workers are ready yet", headers={"retry-after": "1"})
    if len(rows) > settings.max_items_per_request:
        raise HTTPException(413, f"{len(rows)} rows is over the limit "
                                 f"max_items_per_request={settings.max_items_per_request}; split the batch")
    if timeout_s is not None and timeout_s > settings.max_timeout_s:
        raise HTTPException(422, f"timeout_s={timeout_s} is over the limit max_timeout_s={settings.max_timeout_s}")
    positions = [i for i, row in enumerate(rows) if isinstance(row, Item)]
    try:
        scored = await service.scorer.score([rows[i] for i in positions], timeout_s)  # type: ignore[misc]
    except Overloaded as exc:  # the trainers' own retry loops take it from here
        raise HTTPException(429, str(exc), headers={"retry-after": exc.retry_after_header}) from None
    verdicts: list[Verdict] = [row for row in rows]  # type: ignore[misc]
    for index, verdict in zip(positions, scored):
        verdicts[index] = verdict
    service.metrics.observe(verdicts)
    return verdicts


def is_unscorable(verdict: Verdict) -> bool:
    return verdict.status in UNSCORABLE


def refuse_unscorable(verdicts: list[Verdict]) -> None:
    """`on_error=fail`: a 502 naming what went wrong, so the trainer's retry / failure path runs."""
    bad = [(i, v) for i, v in enumerate(verdicts) if is_unscorable(v)]
    if bad:
        counts = Counter(v.status.value for _, v in bad)
        first_index, first = bad[0]
        raise HTTPException(502, f"{len(bad)} of {len(verdicts)} rows could not be scored ({dict(counts)}); "
                                 f"row {first_index}: {first.status.value}: {first.message}")


def trainer_reward(verdict: Verdict) -> float:
    """The reward a trainer without masking gets: the verdict's, or 0 for an unscorable row."""
    return 0.0 if is_unscorable(verdict) else verdict.reward
