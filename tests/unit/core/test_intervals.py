"""The bootstrap building blocks at a count of 0: empty cells, empty groups, no rows, no resamples. A rate over a
group drawn empty is undefined in that resample (never 0), and the share of such resamples is the binomial
probability of drawing the group empty."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from fmaudit.core.intervals import (
    cell_count_chunks,
    percentile_bounds,
    percentile_interval,
    resample_cell_counts,
    resampled_rows,
    row_cell_counts,
    row_weights,
)


def rates(events: np.ndarray, trials: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return events / trials  # NaN where a resample drew no trial


def test_empty_cells_stay_empty_in_every_resample_and_the_total_is_kept() -> None:
    counts = np.array([[5, 0], [0, 3]])  # group x outcome: group 0 never has outcome 1, group 1 never outcome 0
    drawn = resample_cell_counts(counts, n_boot=500, rng=np.random.default_rng(0))
    assert drawn.shape == (500, 2, 2)
    assert (drawn[:, 0, 1] == 0).all() and (drawn[:, 1, 0] == 0).all()
    assert (drawn.sum(axis=(1, 2)) == 8).all()
    assert drawn[:, 0, 0].mean() == pytest.approx(5, abs=0.3)  # multinomial: 8 draws at share 5/8


def test_no_rows_at_all_give_all_zero_resamples_of_the_asked_shape() -> None:
    drawn = resample_cell_counts(np.zeros((3, 4), dtype=np.int64), n_boot=7, rng=np.random.default_rng(0))
    assert drawn.shape == (7, 3, 4) and not drawn.any()
    [chunk] = list(cell_count_chunks(np.zeros(4, dtype=np.int64), n_boot=7, rng=np.random.default_rng(0)))
    assert chunk.shape == (7, 4) and not chunk.any()
    for chunks in (
        row_weights(0, n_boot=7, rng=np.random.default_rng(0)),
        resampled_rows(0, n_boot=7, rng=np.random.default_rng(0)),
    ):
        [rows] = list(chunks)
        assert rows.shape == (7, 0)
    [cells] = list(row_cell_counts(np.zeros(0, dtype=np.int64), n_cells=3, n_boot=7, rng=np.random.default_rng(0)))
    assert cells.shape == (7, 3) and not cells.any()


def test_no_resamples_give_no_interval() -> None:
    assert resample_cell_counts(np.array([4, 6]), n_boot=0, rng=np.random.default_rng(0)).shape == (0, 2)
    assert list(row_weights(5, n_boot=0, rng=np.random.default_rng(0))) == []
    interval = percentile_interval(np.zeros(0), level=0.95)
    assert (interval.low, interval.high, interval.undefined_share) == (None, None, 1.0)


def test_a_rate_over_an_empty_group_is_undefined_in_every_resample() -> None:
    counts = np.array([[0, 0], [30, 10]])  # group 0 has no rows: (events, non-events) = (0, 0)
    drawn = resample_cell_counts(counts, n_boot=400, rng=np.random.default_rng(1))
    samples = rates(drawn[:, :, 0], drawn.sum(axis=2))
    empty, full = percentile_interval(samples[:, 0], level=0.95), percentile_interval(samples[:, 1], level=0.95)
    assert (empty.low, empty.high, empty.undefined_share) == (None, None, 1.0)
    assert full.undefined_share == 0.0 and full.low is not None and full.high is not None
    assert full.low < 0.75 < full.high


def test_the_undefined_share_is_the_chance_of_drawing_a_small_group_empty() -> None:
    """One row of 100 in its group: a resample of 100 rows misses it with probability (1 - 1/100)^100."""
    counts = np.array([[1, 0], [60, 39]])
    drawn = resample_cell_counts(counts, n_boot=20_000, rng=np.random.default_rng(2))
    samples = rates(drawn[:, :, 0], drawn.sum(axis=2))
    interval = percentile_interval(samples[:, 0], level=0.95)
    expected = binom.pmf(0, 100, 1 / 100)  # 0.366
    assert interval.undefined_share == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / 20_000))
    # Where the group was drawn, its only row was an event: the rate is 1 in every defined resample.
    assert (interval.low, interval.high) == (1.0, 1.0)
    bounds = percentile_bounds(samples, level=0.95)
    assert bounds.undefined_share.tolist() == [interval.undefined_share, 0.0]


def test_fewer_than_two_defined_resamples_give_no_interval() -> None:
    interval = percentile_interval(np.array([np.nan, np.inf, 0.5]), level=0.95)
    assert (interval.low, interval.high) == (None, None)
    assert interval.undefined_share == pytest.approx(2 / 3)
    two = percentile_interval(np.array([np.nan, 0.25, 0.5]), level=0.5)
    assert (two.low, two.high) == pytest.approx((0.3125, 0.4375))  # numpy's linear quantiles of the defined pair
