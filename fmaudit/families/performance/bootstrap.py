"""Bootstrap intervals of the performance figures, every resample at once.

Each figure ``score_figures`` reports (accuracy, balanced accuracy, F1, ROC AUC, ECE) depends on the rows only
through how many rows of each label carry each distinct score: a resample is the count of drawn rows per
(distinct score, label) cell. From those counts the figures are sums over cells: ROC AUC as the Mann-Whitney
statistic with tied scores counted one half (the area under scikit-learn's ROC curve, ties drawn diagonally),
the confusion counts from the scores at or above the threshold, the ECE from per-bin sums. The resampled rows
are the ones a loop of ``rng.integers(0, n, n)`` per resample draws (``intervals.resampled_rows``).
"""

from __future__ import annotations

import numpy as np

from fmaudit.core.intervals import Interval, percentile_interval, row_cell_counts, stream
from fmaudit.families.performance.params import FIGURES, PerformanceParams
from fmaudit.metrics.scores import score_bins


def bootstrap_intervals(
    labels: np.ndarray, scores: np.ndarray, params: PerformanceParams, *, threshold: float = 0.5
) -> dict[str, Interval]:
    """Percentile intervals of every figure over resamples of the test rows (the same scheme as fairness)."""
    values, which = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
    cells = 2 * which.reshape(-1) + np.asarray(labels, dtype=np.int64)
    chunks = [
        resampled_figures(counts.reshape(len(counts), -1, 2), values, threshold=threshold, ece_bins=params.ece_bins)
        for counts in row_cell_counts(
            cells, n_cells=2 * len(values), n_boot=params.n_boot, rng=stream(params.seed, "performance")
        )
    ]
    return {
        figure: percentile_interval(np.concatenate([[], *(c[figure] for c in chunks)]), level=params.confidence)
        for figure in FIGURES
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
