"""Parity figures two families need: fairlearn's between-groups disparities and the pair of groups each is
between, which groups are compared at all, and the demographic parity ratio of one set of decisions.

These are point estimates. An interval around one must allow for its pair being picked on the sample: a gap
re-chosen per resample is never below parity, so its percentile interval cannot contain "no gap", and the
pair picked on the full sample, kept in every resample, keeps the winner's curse (the fairness family's
intervals are simultaneous over all pairs instead).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fmaudit.core.findings import finite

DISPARITIES: dict[str, tuple[str, ...]] = {
    # name: the per-group metrics it compares (worst of them for multi-metric disparities)
    "demographic_parity_difference": ("selection_rate",),
    "demographic_parity_ratio": ("selection_rate",),
    "equalized_odds_difference": ("tpr", "fpr"),
    "equalized_odds_ratio": ("tpr", "fpr"),
    "equal_opportunity_difference": ("tpr",),
    "predictive_parity_difference": ("precision",),
}


@dataclass(frozen=True)
class Pair:
    """The rate and the two groups (indices into the group axis) whose gap a summary disparity is."""

    metric: str
    high: int
    low: int


def extreme_pair(metrics: dict[str, np.ndarray], name: str, *, eligible: np.ndarray) -> tuple[float, Pair | None]:
    """One disparity between the extreme eligible groups, fairlearn's 'between_groups' definition, and the
    pair of groups (and rate) it compares; NaN and None where fewer than two groups are defined.

    ``metrics`` holds one value per group (the full sample). For multi-rate disparities (equalized odds)
    the worst rate is taken; a rate undefined for lack of groups (e.g. FPR where a group has no
    negatives) is left out. Ratios are smaller over larger, so 1 is parity.
    """
    difference = name.endswith("difference")
    worst: tuple[float, Pair | None] = (float("nan"), None)
    for metric in DISPARITIES[name]:
        values = np.where(eligible, np.asarray(metrics[metric], dtype=np.float64), np.nan)
        defined = np.isfinite(values)
        if defined.sum() < 2:
            continue
        high = int(np.where(defined, values, -np.inf).argmax())
        others = defined & (np.arange(len(values)) != high)  # two distinct groups even where all are equal
        pair = Pair(metric, high=high, low=int(np.where(others, values, np.inf).argmin()))
        gap = float(pair_gap(values, name, pair))
        if not np.isfinite(worst[0]) or (gap > worst[0] if difference else gap < worst[0]):
            worst = (gap, pair)
    return worst


def pair_gap(values: np.ndarray, name: str, pair: Pair) -> np.ndarray:
    """The gap between a fixed pair of groups of per-group ``values`` (last axis; any leading axes are kept):
    ``high − low`` for a difference, ``low / high`` for a ratio (1 where both are equal, NaN where only
    ``high`` is 0)."""
    high, low = values[..., pair.high], values[..., pair.low]
    if name.endswith("difference"):
        return high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(high == low, 1.0, low / high)
    return np.where(np.isfinite(ratio), ratio, np.nan)


def compared_min_size(rows: int, *, min_group_size: int, min_group_share: float) -> int:
    """The fewest test rows a group needs to be compared: the larger of a count and a share of the ``rows``."""
    return max(min_group_size, math.ceil(min_group_share * rows))


def excluded_groups(names: Sequence[str], sizes: np.ndarray, *, min_size: int, unknown: str) -> dict[str, str]:
    """Groups left out of every comparison, with the reason: the missing-value group, empty groups and groups
    smaller than ``min_size``."""
    excluded = {}
    for name, size in zip(names, sizes, strict=True):
        if name == unknown:
            excluded[name] = f"sensitive value missing ({int(size)} rows)"
        elif size == 0:
            excluded[name] = "no rows"
        elif size < min_size:
            excluded[name] = f"insufficient data: {int(size)} rows < minimum {min_size}"
    return excluded


def demographic_parity_ratio(
    decisions: np.ndarray, groups: Sequence[str] | np.ndarray, names: Sequence[str], *, min_size: int, unknown: str
) -> float | None:
    """fairlearn's demographic parity ratio (smallest over largest selection rate) over the compared groups of
    ``names`` (point estimate); None where fewer than two groups are compared."""
    values = np.asarray(groups).astype(str)
    names = list(dict.fromkeys([*names, *sorted(set(values.tolist()))]))
    masks = [values == name for name in names]
    sizes = np.array([mask.sum() for mask in masks])
    rates = np.array([decisions[mask].mean() if mask.any() else np.nan for mask in masks], dtype=np.float64)
    excluded = excluded_groups(names, sizes, min_size=min_size, unknown=unknown)
    eligible = np.array([name not in excluded for name in names])
    value, _ = extreme_pair({"selection_rate": rates}, "demographic_parity_ratio", eligible=eligible)
    return finite(value)
