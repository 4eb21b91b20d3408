"""A verl custom reward function backed by Referee.

verl config (sync; `compute_score_async` for verl's async reward loop):

    reward:
      custom_reward_function:
        path: /path/to/site-packages/referee_client/verl.py   # python -c "import referee_client.verl as m; print(m.__file__)"
        name: compute_score
        reward_kwargs: {verifier: math, url: "http://referee:8000"}

verl calls it once per rollout from several reward workers; calls made within `micro_batch_ms`
of each other share one `/v1/verify` request. It returns `{"score": reward, <components>,
"unscorable": 0 or 1}`. An unscorable item (timeout, error, invalid_input) scores 0 and is
counted in `unscorable`, or raises `RefereeUnscorable` with `on_unscorable="raise"`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

from referee_client.shared import shared_client
from referee_client.wire import RefereeError, Verdict, make_item

DEFAULT_MICRO_BATCH_MS = 5.0
_component_names: set[str] = set()  # every result carries the same keys: verl stacks them per key
_names_lock = threading.Lock()


class RefereeUnscorable(RefereeError):
    """Referee could not score the rollout (timeout, error, invalid_input)."""


def _item(data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None,
          verifier: str | Mapping[str, str] | None, params: Mapping[str, Any] | None) -> dict[str, Any]:
    extra = extra_info if isinstance(extra_info, Mapping) else {}
    name = extra.get("referee_verifier") or (verifier.get(data_source) if isinstance(verifier, Mapping) else verifier)
    if not name:
        raise ValueError(f"no Referee verifier for data_source {data_source!r}: set reward_kwargs.verifier "
                         "(a name, or a mapping from data_source to name) or extra_info.referee_verifier")
    merged = dict(params or {}) | dict(extra.get("referee_params") or {})
    return make_item(str(name), solution_str, ground_truth, merged)


def _result(verdict: Verdict, on_unscorable: str) -> dict[str, float]:
    if not verdict.scorable:
        if on_unscorable == "raise":
            raise RefereeUnscorable(f"{verdict.status}: {verdict.message}")
        if on_unscorable != "zero":
            raise ValueError("on_unscorable is 'zero' or 'raise'")
    with _names_lock:
        _component_names.update(verdict.components)
        names = sorted(_component_names)
    result = {"score": verdict.reward if verdict.scorable else 0.0}
    result |= {name: float(verdict.components.get(name, 0.0)) for name in names}
    result["unscorable"] = 0.0 if verdict.scorable else 1.0
    return result


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None,
                  *, verifier: str | Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None,
                  url: str | None = None, api_key: str | None = None, timeout_s: float | None = None,
                  micro_batch_ms: float | None = DEFAULT_MICRO_BATCH_MS, on_unscorable: str = "zero",
                  **_: Any) -> dict[str, float]:
    """verl's `compute_score(data_source, solution_str, ground_truth, extra_info, **reward_kwargs)`."""
    item = _item(data_source, solution_str, ground_truth, extra_info, verifier, params)
    client = shared_client(url, api_key, micro_batch_ms)
    return _result(client.submit(item, timeout_s=timeout_s).result(), on_unscorable)


async def compute_score_async(data_source: str, solution_str: str, ground_truth: Any,
                              extra_info: Mapping[str, Any] | None = None, *,
                              verifier: str | Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None,
                              url: str | None = None, api_key: str | None = None, timeout_s: float | None = None,
                              micro_batch_ms: float | None = DEFAULT_MICRO_BATCH_MS, on_unscorable: str = "zero",
                              **_: Any) -> dict[str, float]:
    """The same, as a coroutine: verl's reward loop awaits it for many rollouts at once."""
    item = _item(data_source, solution_str, ground_truth, extra_info, verifier, params)
    client = shared_client(url, api_key, micro_batch_ms)
    if micro_batch_ms is None:  # an unbatched submit posts at once: keep it off the event loop
        verdict = await asyncio.to_thread(lambda: client.submit(item, timeout_s=timeout_s).result())
    else:
        verdict = await asyncio.wrap_future(client.submit(item, timeout_s=timeout_s))
    return _result(verdict, on_unscorable)
