"""Intervals that do not claim more than the sample holds: exact bounds at 0 or n events, and percentile
intervals withheld where too few resamples defined the statistic."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from fmaudit.core.intervals import (
    UNDEFINED_WITHHELD,
    exact_bounds,
    group_intervals,
    min_defined,
    percentile_bounds,
    percentile_interval,
    resample_cell_counts,
)


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
