"""The stability index against its formula, its bins for numbers, categories, new values and missing ones, and its
interval's coverage with no shift and with a planted one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fmaudit.metrics.drift import band, index_from_counts, interval, stability_index


def test_index_is_the_formula_over_shares() -> None:
    ref, cur = np.array([50, 30, 20]), np.array([20, 30, 50])
    p, q = ref / 100, cur / 100
    assert index_from_counts(ref, cur) == pytest.approx(np.sum((q - p) * np.log(q / p)))
    assert index_from_counts(ref, ref) == 0.0


def test_numeric_bins_are_reference_deciles_with_a_missing_bin() -> None:
    reference = pd.Series(np.arange(1000, dtype=float))
    current = pd.Series([-5.0, 5000.0, np.nan])
    drift = stability_index(reference, current)
    assert drift.numeric and len(drift.bins) == 11 and drift.bins[-1] == "missing"
    assert drift.reference_counts[:10].tolist() == [100] * 10
    assert drift.current_counts.tolist() == [1] + [0] * 8 + [1, 1]


def test_categories_count_values_the_reference_never_saw_and_missing_ones() -> None:
    drift = stability_index(pd.Series(["a", "a", "b"] * 100), pd.Series(["a", "b", "b", "c"] * 50 + [None] * 2))
    assert not drift.numeric
    assert drift.bins == ("a", "b", "c", "missing")
    assert drift.reference_counts.tolist() == [200, 100, 0, 0]
    assert drift.current_counts.tolist() == [50, 100, 50, 2]
    assert drift.band == "shifted"


def test_bands_follow_the_industry_convention() -> None:
    assert (band(0.05), band(0.1), band(0.25), band(0.26)) == ("stable", "watch", "watch", "shifted")


def _coverage(shift: float, truth: float, rng: np.random.Generator, runs: int = 100) -> tuple[float, float]:
    covered = at_zero = 0
    for run in range(runs):
        drift = stability_index(pd.Series(rng.normal(size=700)), pd.Series(rng.normal(shift, 1, size=300)))
        low, high = interval(drift, n_boot=300, seed=run)
        covered += low <= truth <= high
        at_zero += low == 0.0
    return covered / runs, at_zero / runs


def test_interval_reaches_zero_when_nothing_moved() -> None:
    """The estimate is biased upward (about 0.043 here); a percentile interval would exclude 0 most of the time."""
    covered, at_zero = _coverage(0.0, 0.0, np.random.default_rng(3))
    assert covered >= 0.95 and at_zero >= 0.95


def test_interval_covers_a_planted_shift() -> None:
    rng = np.random.default_rng(4)
    truth = stability_index(pd.Series(rng.normal(size=1_000_000)), pd.Series(rng.normal(0.5, 1, size=1_000_000))).value
    assert truth == pytest.approx(0.24, abs=0.01)
    covered, at_zero = _coverage(0.5, truth, rng)
    assert covered >= 0.88 and at_zero <= 0.2
