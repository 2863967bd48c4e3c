"""Score figures for one set of scores (accuracy, balanced accuracy, F1, ROC AUC, ECE), defined once for every
family that reports them."""

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
