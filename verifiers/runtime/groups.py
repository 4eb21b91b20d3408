"""Group statistics: items that share `group` (the rollouts of one prompt) summarised together.

For each group: `n` rewards counted (statuses `ok` and `wrong_format`; `timeout`, `error` and
`invalid_input` are not rewards and are counted in `masked`), their `mean` and population
standard deviation `std`, unbiased `pass_at_k` for k = 1, 2, 4, … and n (an item passes when its
reward reaches 1), and `all_equal`: every reward the same, a group that carries no GRPO signal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, Field

from verifiers.contract import Item, Status, Verdict

SCORED = frozenset({Status.ok, Status.wrong_format})
PASS_REWARD = 1.0 - 1e-9


class GroupStats(BaseModel):
    n: int = Field(description="items whose verdict is a reward (ok, wrong_format)")
    masked: int = Field(0, description="items whose verdict is not a reward (timeout, error, invalid_input)")
    mean: float | None = None
    std: float | None = Field(None, description="population standard deviation of the rewards")
    passed: int = Field(0, description="items whose reward reached 1")
    pass_at_k: dict[str, float] = Field(default_factory=dict, description="unbiased pass@k, k = 1, 2, 4, …, n")
    all_equal: bool = Field(False, description="every reward the same: no learning signal for GRPO")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator of pass@k from n samples of which c passed: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    # the product form avoids huge binomials: C(n-c, k)/C(n, k) = prod_{i=n-c+1}^{n} (1 - k/i)
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def ks_for(n: int) -> list[int]:
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n] if n else []


def group_stats(items: Sequence[Item], verdicts: Sequence[Verdict]) -> dict[str, GroupStats]:
    """Statistics per group key (as a string: JSON object keys), for the items that have one."""
    rewards: dict[str, list[float]] = {}
    masked: dict[str, int] = {}
    for item, verdict in zip(items, verdicts):
        if item.group is None:
            continue
        key = str(item.group)
        rewards.setdefault(key, [])
        if verdict.status in SCORED:
            rewards[key].append(verdict.reward)
        else:
            masked[key] = masked.get(key, 0) + 1
    out: dict[str, GroupStats] = {}
    for key, values in rewards.items():
        n = len(values)
        if not n:
            out[key] = GroupStats(n=0, masked=masked.get(key, 0))
            continue
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
        passed = sum(1 for v in values if v >= PASS_REWARD)
        out[key] = GroupStats(
            n=n, masked=masked.get(key, 0), mean=mean, std=std, passed=passed,
            pass_at_k={str(k): pass_at_k(n, passed, k) for k in ks_for(n)},
            all_equal=all(v == values[0] for v in values),
        )
    return out
