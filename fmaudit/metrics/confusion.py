"""Each group's confusion counts (``tn, fp, fn, tp``) and the rates they define, as array functions: one call
serves the full sample and every bootstrap resample of the counts (leading axes). The fairness family's figures
and the behaviour family's template-sensitivity parity ratios are both read from these, so one figure has one
definition. The definitions match fairlearn's (selection rate, TPR, FPR, FNR), which the fairness tests check.
"""

from __future__ import annotations

import numpy as np

ROWS_PER_CHUNK = 1_000_000
"""Rows summarised at once into cell counts: the temporaries stay bounded on a portfolio of millions of rows."""


def confusion_counts(codes: np.ndarray, labels: np.ndarray, decisions: np.ndarray, *, n_groups: int) -> np.ndarray:
    """Counts of (tn, fp, fn, tp) per group: shape ``(n_groups, 4)``."""
    flat = np.zeros(n_groups * 4, dtype=np.int64)
    for rows in row_chunks(len(codes)):
        cell = 2 * np.asarray(labels[rows], dtype=np.int64) + np.asarray(decisions[rows], dtype=np.int64)
        flat += np.bincount(np.asarray(codes[rows], dtype=np.int64) * 4 + cell, minlength=n_groups * 4)
    return flat.reshape(n_groups, 4)


def row_chunks(n_rows: int) -> list[slice]:
    """Slices of at most ``ROWS_PER_CHUNK`` rows covering ``n_rows``."""
    return [slice(start, start + ROWS_PER_CHUNK) for start in range(0, n_rows, ROWS_PER_CHUNK)]


RATE_CELLS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "base_rate": ((2, 3), (0, 1, 2, 3)),
    "selection_rate": ((1, 3), (0, 1, 2, 3)),
    "accuracy": ((0, 3), (0, 1, 2, 3)),
    "tpr": ((3,), (2, 3)),
    "fpr": ((1,), (0, 1)),
    "fnr": ((2,), (2, 3)),
    "precision": ((3,), (1, 3)),
}
"""Each count-based rate as the cells (of ``tn, fp, fn, tp``) it counts over the cells it is a share of."""


def rate_parts(counts: np.ndarray, rate: str) -> tuple[np.ndarray, np.ndarray]:
    """A rate's numerator and denominator per group from counts of shape ``(..., groups, 4)``: the events
    and trials a standard error needs."""
    events, trials = (counts[..., list(cells)].sum(axis=-1).astype(np.float64) for cells in RATE_CELLS[rate])
    return events, trials


def rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Count-based metrics per group from counts of shape ``(..., groups, 4)``; NaN where undefined."""
    figures = {"count": counts.sum(axis=-1).astype(np.float64)}
    with np.errstate(divide="ignore", invalid="ignore"):
        for rate in RATE_CELLS:
            events, trials = rate_parts(counts, rate)
            figures[rate] = events / trials
    return figures
