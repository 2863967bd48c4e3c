"""Per-group metrics and disparities as array functions, so one call serves the point
estimate and every bootstrap resample at once.

Count-based metrics are functions of each group's confusion counts (cells
``tn, fp, fn, tp`` in the last axis); score-based ones (mean score, calibration)
are functions of row weights. Leading axes are resamples. The definitions match
fairlearn's (selection rate, TPR, FPR, FNR; demographic parity and equalized odds
as max-minus-min and min-over-max between groups), which the tests check.
"""

from __future__ import annotations

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


def disparity(metrics: dict[str, np.ndarray], name: str, *, eligible: np.ndarray, reference: int | None) -> np.ndarray:
    """One disparity over the eligible groups (last axis); NaN where fewer than two groups are defined.

    With ``reference=None`` each metric is compared between the extreme groups (fairlearn's
    'between_groups'); with a reference group, every eligible group is compared with it.
    Ratios are symmetric (smaller over larger), so 1 means parity either way.
    """
    parts = [
        _difference_or_ratio(metrics[m][..., eligible], name, _position(eligible, reference)) for m in DISPARITIES[name]
    ]
    stacked = np.stack(parts)
    # A component undefined for lack of groups (e.g. FPR where a group has no negatives) is left out.
    defined = np.isfinite(stacked).any(axis=0)
    if name.endswith("difference"):
        worst = np.where(np.isfinite(stacked), stacked, -np.inf).max(axis=0)
    else:
        worst = np.where(np.isfinite(stacked), stacked, np.inf).min(axis=0)
    return np.where(defined, worst, np.nan)


def _position(eligible: np.ndarray, reference: int | None) -> int | None:
    """Index of the reference group among the eligible ones."""
    if reference is None:
        return None
    return int(np.flatnonzero(np.flatnonzero(eligible) == reference)[0])


def _difference_or_ratio(values: np.ndarray, name: str, reference: int | None) -> np.ndarray:
    defined = np.isfinite(values)
    enough = defined.sum(axis=-1) >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        if reference is None:
            high = np.where(defined, values, -np.inf).max(axis=-1)
            low = np.where(defined, values, np.inf).min(axis=-1)
            result = high - low if name.endswith("difference") else np.where(high == low, 1.0, low / high)
        else:
            ref = values[..., reference : reference + 1]
            if name.endswith("difference"):
                gaps = np.where(defined, np.abs(values - ref), -np.inf)
                result = gaps.max(axis=-1)
            else:
                ratios = np.where(defined, np.minimum(values, ref) / np.maximum(values, ref), np.inf)
                ratios = np.where(np.minimum(values, ref) == np.maximum(values, ref), 1.0, ratios)
                result = ratios.min(axis=-1)
            enough &= np.isfinite(ref[..., 0])
    return np.where(enough, result, np.nan)
