"""A reward function for TRL's `GRPOTrainer` (and its other online trainers) backed by Referee.

    from referee_client.trl import reward_func
    trainer = GRPOTrainer(model=..., reward_funcs=[reward_func("math", reference_column="answer")], ...)

TRL calls it with the whole batch of completions and the dataset's columns as keyword
arguments; the batch goes to Referee as one request. Statuses that are not a real reward
(timeout, error, invalid_input) come back as `None`, which TRL masks instead of training on 0.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from referee_client.shared import shared_client
from referee_client.wire import make_item

RewardFunc = Callable[..., Awaitable[list[float | None]]]


def reward_func(verifier: str, *, reference_column: str | None = "answer", params: Mapping[str, Any] | None = None,
                url: str | None = None, api_key: str | None = None, timeout_s: float | None = None,
                name: str | None = None) -> RewardFunc:
    """An async callable with TRL's reward-function signature.

    `reference_column`: the dataset column holding each row's reference (None: no reference).
    `params`: the verifier's options. `url` / `api_key` default to $REFEREE_URL / $REFEREE_API_KEY.
    The function's name (TRL logs `rewards/<name>/mean`) is `name`, or `referee_<verifier>`.
    """
    fixed_params = dict(params or {})

    async def reward(prompts: list[Any], completions: list[Any], completion_ids: Any = None,
                     **kwargs: Any) -> list[float | None]:
        if reference_column is not None and reference_column not in kwargs:
            raise KeyError(f"the dataset has no column {reference_column!r} (columns: "
                           f"{sorted(k for k in kwargs if k not in ('trainer_state', 'log_extra', 'log_metric'))})")
        references = kwargs[reference_column] if reference_column is not None else [None] * len(completions)
        items = [make_item(verifier, completion, reference, fixed_params)
                 for completion, reference in zip(completions, references, strict=True)]
        client = shared_client(url, api_key, None)
        verdicts = await asyncio.to_thread(client.verify, items, timeout_s=timeout_s)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            for status, count in Counter(v.status for v in verdicts if not v.scorable).items():
                log_metric(f"referee/{status}", count / len(verdicts))
        return [v.reward if v.scorable else None for v in verdicts]

    reward.__name__ = reward.__qualname__ = name or "referee_" + re.sub(r"\W", "_", verifier)
    return reward
