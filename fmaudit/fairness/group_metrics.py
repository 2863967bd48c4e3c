"""Per-group metrics and disparities as array functions, so one call serves the point
estimate and every bootstrap resample at once.

Count-based metrics are functions of each group's confusion counts (cells
``tn, fp, fn, tp`` in the last axis); score-based ones (mean score, calibration)
are functions of row weights. Leading axes are resamples. The definitions match
fairlearn's (selection rate, TPR, FPR, FNR; demographic parity and equalized odds
as max-minus-min and min-over-max between groups), which the tests check.

Gaps to bootstrap are signed and between groups fixed on the full sample (each group
against a reference group; a summary disparity's extreme pair), never re-chosen per
resample: a gap re-chosen per resample is never below parity, so its percentile
interval could not contain "no gap".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmaudit.performance.figures import score_bins

RATE_METRICS = ("count", "base_rate", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision")
SCORE_METRICS = ("mean_score", "ece")
DISPARITIES: dict[str, tuple[str, ...]] = {
    # name: the per-group metrics it compares (worst of them for multi-metric disparities)
    "demographic_parity_difference": ("selection_rate",),
    "demographic_parity_ratio": ("selection_rate",),
    "equalized_odds_difference": ("tpr", "fpr"),
    "equalized_odds_ratio": ("tpr", "fpr"),
    "equal_opportunity_difference": ("tpr",),
    "predictive_parity_difference": ("precision",),
}


def confusion_counts(codes: np.ndarray, labels: np.ndarray, decisions: np.ndarray, *, n_groups: int) -> np.ndarray:
    """Counts of (tn, fp, fn, tp) per group: shape ``(n_groups, 4)``."""
    cell = 2 * np.asarray(labels, dtype=np.int64) + np.asarray(decisions, dtype=np.int64)
    flat = np.bincount(np.asarray(codes, dtype=np.int64) * 4 + cell, minlength=n_groups * 4)
    return flat.reshape(n_groups, 4)


def rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Count-based metrics per group from counts of shape ``(..., groups, 4)``; NaN where undefined."""
    tn, fp, fn, tp = (counts[..., i].astype(np.float64) for i in range(4))
    n = tn + fp + fn + tp
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "count": n,
            "base_rate": (fn + tp) / n,
            "selection_rate": (fp + tp) / n,
            "accuracy": (tn + tp) / n,
            "tpr": tp / (tp + fn),
            "fpr": fp / (fp + tn),
            "fnr": fn / (fn + tp),
            "precision": tp / (tp + fp),
        }


def score_metrics(
    weights: np.ndarray, codes: np.ndarray, labels: np.ndarray, scores: np.ndarray, *, n_groups: int, bins: int = 10
) -> dict[str, np.ndarray]:
    """Mean score and expected calibration error per group under row weights ``(k, rows)`` -> ``(k, groups)``.

    ECE uses the same equal-width bins as the performance plugin (Guo et al. 2017).
    """
    which = score_bins(scores, bins)
    onehot = np.zeros((len(scores), n_groups * bins))
    onehot[np.arange(len(scores)), np.asarray(codes) * bins + which] = 1.0
    weights = weights.astype(np.float64)
    n = (weights @ onehot).reshape(-1, n_groups, bins)
    s = (weights @ (onehot * scores[:, None])).reshape(-1, n_groups, bins)
    y = (weights @ (onehot * np.asarray(labels, dtype=np.float64)[:, None])).reshape(-1, n_groups, bins)
    total = n.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"mean_score": s.sum(axis=2) / total, "ece": np.abs(y - s).sum(axis=2) / total}


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
    """The gap between a fixed pair of groups of per-group ``values`` (last axis; leading axes are
    resamples): ``high − low`` for a difference, ``low / high`` for a ratio (1 where both are equal,
    NaN where only ``high`` is 0).

    Signed: with the pair fixed on the full sample, a resample may reverse the order, so a percentile
    interval can reach below 0 (above 1) and contain parity.
    """
    high, low = values[..., pair.high], values[..., pair.low]
    if name.endswith("difference"):
        return high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(high == low, 1.0, low / high)
    return np.where(np.isfinite(ratio), ratio, np.nan)


def versus_reference(values: np.ndarray, reference: int) -> tuple[np.ndarray, np.ndarray]:
    """Signed difference ``value(g) − value(ref)`` and ratio ``value(g) / value(ref)`` of every group (last
    axis) with the reference group; the ratio is 1 where both are equal and NaN where only the reference is 0.
    """
    ref = values[..., reference : reference + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(values == ref, 1.0, values / ref)
    return values - ref, np.where(np.isfinite(ratio), ratio, np.nan)
