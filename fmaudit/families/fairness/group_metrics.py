"""Per-group metrics and disparities as array functions, so one call serves the point
estimate and every bootstrap resample at once.

Count-based metrics are functions of each group's confusion counts (cells
``tn, fp, fn, tp`` in the last axis; ``fmaudit.metrics.confusion``, shared with the behaviour family);
score-based ones (mean score, calibration) are functions of counts and score sums over group x score-bin x
label cells.
Leading axes are resamples. The definitions match
fairlearn's (selection rate, TPR, FPR, FNR; demographic parity and equalized odds
as max-minus-min and min-over-max between groups), which the tests check.

Gaps to a reference group are signed and between groups fixed on the full sample, never
re-chosen per resample: a gap re-chosen per resample is never below parity, so its
percentile interval could not contain "no gap". The summary disparities' intervals are
simultaneous over every pair of groups (``simultaneous``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmaudit.core.intervals import cell_count_chunks
from fmaudit.metrics.confusion import row_chunks
from fmaudit.metrics.scores import score_bins

RATE_METRICS = ("count", "base_rate", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision")
SCORE_METRICS = ("mean_score", "ece")


SUB_BINS = 20
"""Each ECE bin is split into this many equal-width score bins (width 0.005 with the default 10 ECE bins) to
resample score-based figures as counts over cells instead of rows."""


SCORE_BINNING = (
    f"Intervals of the mean score and ECE resample the rows as counts over group x label x score bins of width "
    f"{1 / (10 * SUB_BINS):g} (each of the 10 ECE bins split in {SUB_BINS}): the rows drawn from a bin carry its "
    "mean score plus a normal term with the bin's score variance, so a resample's score sums have the row "
    "bootstrap's mean and variance and millions of rows cost no more than thousands. Their estimates use the "
    "exact scores."
)
"""What the report says wherever a score-based interval appears."""


@dataclass(frozen=True)
class ScoreCells:
    """The rows summarised per group x ECE bin x score sub-bin x label (non-empty cells only): how many rows,
    and the sum and spread of their scores. Mean score and ECE per group are sums over these cells, so on the
    full sample they are the row-level figures. Resampling the cells' counts (a multinomial draw, as for the
    confusion counts) resamples the rows; given m rows drawn from a cell, their score sum is m times the cell's
    mean plus sqrt(m) times its standard deviation times a standard normal: the mean and variance the sum of m
    rows drawn from the cell has."""

    bin: np.ndarray
    """Per cell, ``group * bins + ECE bin``."""
    label: np.ndarray
    count: np.ndarray
    score_sum: np.ndarray
    score_sd: np.ndarray
    """Per cell, the standard deviation of its rows' scores (ddof 0: the spread of a draw from the cell)."""
    n_groups: int
    bins: int


def score_cells(
    codes: np.ndarray, labels: np.ndarray, scores: np.ndarray, *, n_groups: int, bins: int = 10
) -> ScoreCells:
    """Summarise the rows into cells; ECE uses the performance plugin's equal-width bins (Guo et al. 2017)."""
    size = n_groups * bins * SUB_BINS * 2  # a dense count over every possible cell: no sort of the rows
    count, total, squares = np.zeros(size, dtype=np.int64), np.zeros(size), np.zeros(size)
    for rows in row_chunks(len(codes)):
        chunk = np.asarray(scores[rows], dtype=np.float64)
        which = score_bins(chunk, bins)
        sub = np.clip(np.floor((chunk * bins - which) * SUB_BINS), 0, SUB_BINS - 1).astype(np.int64)
        key = ((np.asarray(codes[rows], dtype=np.int64) * bins + which) * SUB_BINS + sub) * 2
        key += np.asarray(labels[rows], dtype=np.int64)
        count += np.bincount(key, minlength=size)
        total += np.bincount(key, weights=chunk, minlength=size)
        squares += np.bincount(key, weights=chunk * chunk, minlength=size)
    cells = np.flatnonzero(count)
    count, total, squares = count[cells], total[cells], squares[cells]
    return ScoreCells(
        bin=cells // (2 * SUB_BINS),
        label=cells % 2,
        count=count,
        score_sum=total,
        score_sd=np.sqrt(np.maximum(squares / count - (total / count) ** 2, 0.0)),
        n_groups=n_groups,
        bins=bins,
    )


def score_metrics(
    cells: ScoreCells, counts: np.ndarray | None = None, normal: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Mean score and expected calibration error per group: ``(1, groups)`` on the full sample (``counts``
    None: exact row sums), else ``(k, groups)`` for cell counts ``(k, cells)`` of k resamples, with
    standard normal draws ``normal`` of the same shape for the spread of scores within cells."""
    if counts is None:
        n, s = cells.count[None].astype(np.float64), cells.score_sum[None]
    else:
        n = counts.astype(np.float64)
        s = n * (cells.score_sum / cells.count)
        if normal is not None:
            s += np.sqrt(n) * cells.score_sd * normal
    # Cells come sorted by bin: sum each bin's run of cells, then place the sums on the group x bin grid.
    bins, starts = np.unique(cells.bin, return_index=True)

    def per_bin(per_cell: np.ndarray) -> np.ndarray:
        grid = np.zeros((len(per_cell), cells.n_groups * cells.bins))
        if len(bins):
            grid[:, bins] = np.add.reduceat(per_cell, starts, axis=1)
        return grid.reshape(-1, cells.n_groups, cells.bins)

    rows, scored, favourable = per_bin(n), per_bin(s), per_bin(n * cells.label)
    total = rows.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"mean_score": scored.sum(axis=2) / total, "ece": np.abs(favourable - scored).sum(axis=2) / total}


def resampled_score_metrics(cells: ScoreCells, *, n_boot: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``score_metrics`` of ``n_boot`` resamples, ``(n_boot, groups)``, drawn chunk by chunk so memory stays
    bounded whatever the rows; the within-cell normals come from a child stream of ``rng``, so the draws do
    not depend on the chunk size."""
    spread = rng.spawn(1)[0]
    chunks = [
        score_metrics(cells, counts, spread.standard_normal(counts.shape))
        for counts in cell_count_chunks(cells.count, n_boot=n_boot, rng=rng)
    ]
    return {figure: np.concatenate([c[figure] for c in chunks]) for figure in SCORE_METRICS}


def versus_reference(values: np.ndarray, reference: int) -> tuple[np.ndarray, np.ndarray]:
    """Signed difference ``value(g) − value(ref)`` and ratio ``value(g) / value(ref)`` of every group (last
    axis) with the reference group; the ratio is 1 where both are equal and NaN where only the reference is 0.
    """
    ref = values[..., reference : reference + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(values == ref, 1.0, values / ref)
    return values - ref, np.where(np.isfinite(ratio), ratio, np.nan)
