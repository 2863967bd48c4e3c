"""Bootstrap intervals of the performance figures, every resample at once: a resample is the count of drawn rows
per (distinct score, label) cell, and ``metrics.scores.resampled_figures`` the figures of many such counts. The
resampled rows are the ones a loop of ``rng.integers(0, n, n)`` per resample draws (``intervals.resampled_rows``).
"""

from __future__ import annotations

import numpy as np

from fmaudit.core.intervals import Interval, percentile_interval, row_cell_counts, stream
from fmaudit.families.performance.params import FIGURES, PerformanceParams
from fmaudit.metrics.scores import resampled_figures


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
