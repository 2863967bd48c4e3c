"""Score figures for one set of scores (accuracy, balanced accuracy, F1, ROC AUC, ECE), defined once for every
family that reports them, and the same figures for many bootstrap resamples at once.

Each figure depends on the rows only through how many rows of each label carry each distinct score, so a
resample is the count of drawn rows per (distinct score, label) cell and the figures are sums over cells: ROC AUC
as the Mann-Whitney statistic with tied scores counted one half (the area under scikit-learn's ROC curve, ties
drawn diagonally), the confusion counts from the scores at or above the threshold, the ECE from per-bin sums.
"""

from __future__ import annotations

import numpy as np


def score_bins(scores: np.ndarray, bins: int) -> np.ndarray:
    """Each score's equal-width bin on [0, 1] (the reliability diagram's bins), shared by every ECE figure."""
    return np.clip(np.digitize(scores, np.linspace(0.0, 1.0, bins + 1)[1:-1], right=True), 0, bins - 1)


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, *, bins: int = 10) -> float:
    """ECE (Guo et al. 2017): bin-size-weighted |accuracy - confidence| over equal-width score bins.

    Computed on the favourable-class probability, i.e. the reliability diagram's gap.
    """
    which = score_bins(scores, bins)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(labels[in_bin].mean() - scores[in_bin].mean())
    return float(total)


def score_figures(
    labels: np.ndarray, scores: np.ndarray, *, threshold: float = 0.5, ece_bins: int = 10
) -> dict[str, float | None]:
    """All performance figures for one set of scores (None where undefined, e.g. AUC on one class)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

    decisions = (scores >= threshold).astype(int)
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": float(accuracy_score(labels, decisions)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, decisions)) if both_classes else None,
        "f1": float(f1_score(labels, decisions, zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, scores)) if both_classes else None,
        "ece": expected_calibration_error(labels, scores, bins=ece_bins),
    }


def resampled_figures(
    counts: np.ndarray, values: np.ndarray, *, threshold: float, ece_bins: int
) -> dict[str, np.ndarray]:
    """``score_figures`` of many resamples: ``counts`` of shape ``(k, scores, 2)`` are the rows per distinct
    score (``values``, ascending) and label (0, 1); one value per resample, NaN where ``score_figures`` has None.
    """
    negative, positive = counts[..., 0].astype(np.float64), counts[..., 1].astype(np.float64)
    decided = values >= threshold
    tp, fp = positive[:, decided].sum(axis=1), negative[:, decided].sum(axis=1)
    n1, n0 = positive.sum(axis=1), negative.sum(axis=1)
    fn, tn = n1 - tp, n0 - fp
    both = (n1 > 0) & (n0 > 0)
    # Negatives scored below each score, plus half of those tied with it: exact integer sums up to 2**53.
    beaten = np.cumsum(negative, axis=1) - 0.5 * negative
    bins = np.eye(ece_bins)[score_bins(values, ece_bins)]
    rows = positive + negative
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "accuracy": (tp + tn) / (n1 + n0),
            "balanced_accuracy": np.where(both, (tp / n1 + tn / n0) / 2, np.nan),
            "f1": np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0),
            "roc_auc": np.where(both, (positive * beaten).sum(axis=1) / (n1 * n0), np.nan),
            "ece": np.abs(positive @ bins - (rows * values) @ bins).sum(axis=1) / (n1 + n0),
        }
