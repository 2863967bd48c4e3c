"""Intervals that do not claim more than the sample holds: the bootstrap building blocks at a count of 0 (a
rate over a group drawn empty is undefined in that resample, never 0, and the share of such resamples is the
binomial chance of drawing it empty), exact bounds at 0 or n events, and percentile intervals withheld where
too few resamples defined the statistic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom
from statsmodels.stats.proportion import proportion_confint

from fmaudit.core.intervals import (
    UNDEFINED_WITHHELD,
    cell_count_chunks,
    exact_bounds,
    group_intervals,
    min_defined,
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
    # 37% of resamples drew the group empty: an interval from the rest (1.0 in every one) would describe only
    # the draws that happened to include its row, so it is withheld.
    assert (interval.low, interval.high) == (None, None)
    bounds = percentile_bounds(samples, level=0.95)
    assert bounds.undefined_share.tolist() == [interval.undefined_share, 0.0]


def test_too_few_defined_resamples_give_no_interval() -> None:
    interval = percentile_interval(np.array([np.nan, np.inf, 0.5]), level=0.95)
    assert (interval.low, interval.high) == (None, None)
    assert interval.undefined_share == pytest.approx(2 / 3)
    # At 50% each tail needs one resample: 4 defined suffice, and the bounds are numpy's linear quantiles.
    four = percentile_interval(np.array([0.25, 0.5, 0.75, 1.0]), level=0.5)
    assert (four.low, four.high) == pytest.approx((0.4375, 0.8125))


@pytest.mark.parametrize(("events", "trials"), [(0, 200), (200, 200), (3, 300), (0, 7), (12, 40)])
def test_exact_bounds_are_clopper_pearson(events: int, trials: int) -> None:
    low, high = exact_bounds(np.array([events]), np.array([trials]), level=0.95)
    expected = proportion_confint(events, trials, alpha=0.05, method="beta")
    assert (low[0], high[0]) == pytest.approx(expected, abs=1e-12)


def test_zero_of_two_hundred_is_compatible_with_a_rate_up_to_about_two_percent() -> None:
    _, high = exact_bounds(np.array([0.0]), np.array([200.0]), level=0.95)
    assert 0.0175 < high[0] < 0.0185  # two-sided 95%: 1 − 0.025^(1/200); the one-sided rule of three says 1.5%
    assert np.isnan(exact_bounds(np.array([0.0]), np.array([0.0]), level=0.95)[0][0])  # no trials: no interval


def test_a_proportion_at_the_boundary_gets_the_exact_interval_not_a_point() -> None:
    """Every resample of 0 successes out of 20 is 0: the percentile interval would be [0, 0]."""
    counts = np.array([[0, 20], [7, 13]])  # per group: (events, non-events)
    resampled = resample_cell_counts(counts, n_boot=500, rng=np.random.default_rng(0))
    events, trials = counts[:, 0].astype(float), counts.sum(axis=1).astype(float)
    rates = {"rate": resampled[..., 0] / resampled.sum(axis=2)}
    plain = group_intervals(rates, level=0.95)["rate"]
    assert (plain[0].low, plain[0].high) == (0.0, 0.0)  # what the bootstrap alone says
    edge, inside = group_intervals(rates, level=0.95, proportions={"rate": (events, trials)})["rate"]
    assert (edge.low, edge.high) == pytest.approx(proportion_confint(0, 20, alpha=0.05, method="beta"))
    assert (inside.low, inside.high) == (plain[1].low, plain[1].high)  # away from the boundary: the bootstrap's


def test_an_interval_resting_on_too_few_defined_resamples_is_withheld() -> None:
    assert min_defined(0.95) == 40 and min_defined(0.9) == 20
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(1000, 3))
    samples[: int(1000 * UNDEFINED_WITHHELD) + 1, 1] = np.nan  # just over the share withheld
    samples[: int(1000 * UNDEFINED_WITHHELD), 2] = np.nan  # exactly at it: still reported
    bounds = percentile_bounds(samples, level=0.95)
    assert np.isfinite(bounds.low[0]) and np.isnan(bounds.low[1]) and np.isfinite(bounds.low[2])
    assert bounds.undefined_share[1] == pytest.approx(0.101)
    few = percentile_interval(rng.normal(size=39), level=0.95)
    assert few.low is None and few.high is None
    assert percentile_interval(rng.normal(size=40), level=0.95).low is not None
