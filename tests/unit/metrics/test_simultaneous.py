"""Intervals of the summary disparities, simultaneous over every pair of groups (max-T): simulated coverage of
the true extreme at 2, 3 and 4 unequal groups, with and without an effect; the old construction (the extreme
pair picked on the full sample, kept in every resample) shown to fail the same bound; a replay by hand; and a
cross-check of the one-pair case against statsmodels' Agresti–Caffo interval.

Each simulation draws 3000 test splits whose rows fall in the groups in the proportions 180/63/30/27 (the
issue's groups), and resamples each one as the audit does (cell counts, multinomial over the whole table), 200
times. A coverage near 95% then has a Monte-Carlo error of 0.4 points, so the 94% bound is more than a point
below the measured coverage; a few hundred data sets would leave it within one standard error.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from fmaudit.core.intervals import percentile_bounds, resample_cell_counts
from fmaudit.metrics import confusion, parity, simultaneous
from tests.support.fairness import run, synthetic

DATA_SETS = 3000
RESAMPLES = 200
BASE_RATE = 0.5
NO_EFFECT = (0.8, 0.6)
"""TPR and FPR of every group under no effect: every group selected at 0.7."""
LOWER = (0.6, 0.4)
"""TPR and FPR of the last (smallest) group under the planted effect: selected at 0.5."""
SIZES = {4: (180, 63, 30, 27), 3: (180, 63, 30), 2: (180, 63)}
CHECKED = ("demographic_parity_ratio", "demographic_parity_difference", "equalized_odds_difference")


def cells(tpr: float, fpr: float) -> np.ndarray:
    """The probabilities of (tn, fp, fn, tp) in a group."""
    return np.array([(1 - BASE_RATE) * (1 - fpr), (1 - BASE_RATE) * fpr, BASE_RATE * (1 - tpr), BASE_RATE * tpr])


@functools.cache
def simulated(groups: int, *, planted: bool) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Counts ``(data sets, groups, 4)`` of test splits whose rows fall in the groups of ``SIZES[groups]`` in
    those proportions, their resamples ``(resamples, data sets, groups, 4)`` and each summary disparity's true
    value; the last group is selected less with ``planted``."""
    sizes = np.array(SIZES[groups])
    rates = [NO_EFFECT] * (groups - 1) + [LOWER if planted else NO_EFFECT]
    rng = np.random.default_rng(10 * groups + planted)
    shares = np.concatenate([n / sizes.sum() * cells(*r) for n, r in zip(sizes, rates, strict=True)])
    counts = rng.multinomial(sizes.sum(), shares, size=DATA_SETS).reshape(DATA_SETS, groups, 4)
    resampled = np.stack([resample_cell_counts(c, n_boot=RESAMPLES, rng=rng) for c in counts], axis=1)
    tpr, fpr = (np.array([r[k] for r in rates]) for k in (0, 1))
    selection = BASE_RATE * tpr + (1 - BASE_RATE) * fpr
    truth = {
        "demographic_parity_ratio": selection.min() / selection.max(),
        "demographic_parity_difference": np.ptp(selection),
        "equalized_odds_difference": max(np.ptp(tpr), np.ptp(fpr)),
        "impact_ratio": selection / selection.max(),
    }
    return counts, resampled, truth


def covered(low: np.ndarray, high: np.ndarray, truth: float | np.ndarray) -> np.ndarray:
    return (low <= truth + 1e-12) & (truth - 1e-12 <= high)


def new_coverage(counts: np.ndarray, resampled: np.ndarray, name: str, truth: float) -> float:
    eligible = np.ones(counts.shape[1], dtype=bool)
    bounds = simultaneous.summary_bounds(
        simultaneous.pair_bounds(counts, resampled, name, eligible=eligible, level=0.95), name
    )
    return float(covered(bounds.low, bounds.high, truth).mean())


def at(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[..., index[...]]``: one entry of the last axis per leading position."""
    return np.take_along_axis(values, index[..., None], axis=-1)[..., 0]


def old_coverage(counts: np.ndarray, resampled: np.ndarray, name: str, truth: float) -> float:
    """The construction this replaces: the percentile interval of the gap between the pair of groups picked on
    each data set's full sample, as ``parity.extreme_pair`` picks it (checked on the first data sets): the most
    and the least of each rate (first on ties), the rate with the worse gap."""
    rates, point, draws = parity.DISPARITIES[name], confusion.rates(counts), confusion.rates(resampled)
    values = np.stack([point[r] for r in rates])  # (rates, data sets, groups)
    high = values.argmax(axis=-1)
    low = np.where(np.arange(values.shape[-1]) == high[..., None], np.inf, values).argmin(axis=-1)
    gaps = parity.pair_gap(np.stack([at(values, high), at(values, low)], axis=-1), name, parity.Pair("", 0, 1))
    rate = gaps.argmax(axis=0) if name.endswith("difference") else gaps.argmin(axis=0)
    high, low = at(high.T, rate), at(low.T, rate)
    for s in range(20):
        _, pair = parity.extreme_pair(
            {r: v[s] for r, v in point.items()}, name, eligible=np.ones(counts.shape[1], bool)
        )
        assert pair == parity.Pair(rates[rate[s]], int(high[s]), int(low[s]))
    sets = np.arange(len(rate))
    chosen = np.stack([draws[r] for r in rates])[rate, :, sets]  # (data sets, resamples, groups)
    pairs = np.stack([chosen[sets, :, high], chosen[sets, :, low]], axis=-1)
    bounds = percentile_bounds(parity.pair_gap(pairs, name, parity.Pair("", 0, 1)).T, level=0.95)
    return float(covered(bounds.low, bounds.high, truth).mean())


@pytest.mark.parametrize("planted", [False, True], ids=["no-effect", "planted"])
@pytest.mark.parametrize("groups", [4, 3, 2])
def test_the_summary_intervals_cover_the_true_extreme(groups: int, planted: bool) -> None:
    counts, resampled, truth = simulated(groups, planted=planted)
    coverage = {name: new_coverage(counts, resampled, name, truth[name]) for name in CHECKED}
    assert all(c >= 0.94 for c in coverage.values()), coverage


def test_the_extreme_pair_kept_from_the_full_sample_under_covers() -> None:
    """The bound above can fail: the old construction misses parity in about one data set in five (ratio) and
    three in ten (equalized odds) at four groups, where the new one holds."""
    counts, resampled, truth = simulated(4, planted=False)
    old = {name: old_coverage(counts, resampled, name, truth[name]) for name in CHECKED}
    assert old["demographic_parity_ratio"] < 0.88 and old["demographic_parity_difference"] < 0.88, old
    assert old["equalized_odds_difference"] < 0.8, old


@pytest.mark.parametrize("planted", [False, True], ids=["no-effect", "planted"])
def test_impact_ratios_allow_for_the_most_selected_group_being_picked(planted: bool) -> None:
    """Every group's impact ratio (its rate over the truly most selected group's) is covered at once; dividing
    by the group most selected on the full sample and bootstrapping that ratio covers far less often."""
    counts, resampled, truth = simulated(4, planted=planted)
    family = simultaneous.pair_bounds(
        counts, resampled, "demographic_parity_ratio", eligible=np.ones(4, bool), level=0.95
    )
    low, high = simultaneous.impact_ratio_bounds(family, 4)
    assert covered(low, high, truth["impact_ratio"]).all(axis=1).mean() >= 0.94
    point, draws = confusion.rates(counts)["selection_rate"], confusion.rates(resampled)["selection_rate"]
    picked = point.argmax(axis=1)
    old = percentile_bounds(draws / np.take_along_axis(draws, picked[None, :, None], axis=2), level=0.95)
    assert covered(old.low, old.high, truth["impact_ratio"]).all(axis=1).mean() < 0.88


def test_one_pair_agrees_with_the_agresti_caffo_interval() -> None:
    """With two groups the difference's family is one pair: its bounds are then Agresti & Caffo's interval
    (statsmodels), with the bootstrap's quantile of |T| in place of 1.96, so equal within Monte-Carlo error."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    counts = np.array([[120, 100, 60, 320], [70, 50, 40, 90]])  # selected: 420 of 600, 140 of 250
    drawn = resample_cell_counts(counts, n_boot=4000, rng=np.random.default_rng(3))
    family = simultaneous.pair_bounds(
        counts, drawn, "demographic_parity_difference", eligible=np.ones(2, bool), level=0.95
    )
    low, high = confint_proportions_2indep(420, 600, 140, 250, method="agresti-caffo", compare="diff")
    width = high - low
    assert (family.first[0], family.second[0]) == (0, 1)
    assert float(family.low[0]) == pytest.approx(low, abs=0.03 * width)
    assert float(family.high[0]) == pytest.approx(high, abs=0.03 * width)
    bounds = simultaneous.summary_bounds(family, "demographic_parity_difference")
    assert (float(bounds.low), float(bounds.high)) == pytest.approx((float(family.low[0]), float(family.high[0])))


def by_hand(counts: np.ndarray, drawn: np.ndarray, rates: tuple[str, ...], *, log: bool) -> list[tuple[float, float]]:
    """Max-T bounds of every pair's gap, one pair and one resample at a time."""
    groups = range(len(counts))
    members = [(rate, i, j) for rate in rates for i in groups for j in groups if i < j]

    def gap_and_se(table: np.ndarray, rate: str, i: int, j: int) -> tuple[float, float]:
        parts = []
        for g in (i, j):
            events, trials = (float(x) for x in confusion.rate_parts(table[g], rate))
            p = (events + 1) / (trials + 2)
            parts.append((np.log(p), (1 - p) / ((trials + 2) * p)) if log else (p, p * (1 - p) / (trials + 2)))
        return parts[0][0] - parts[1][0], float(np.sqrt(parts[0][1] + parts[1][1]))

    estimates = [gap_and_se(counts, *m) for m in members]
    largest = []
    for table in drawn:
        deviations = []
        for (estimate, _), member in zip(estimates, members, strict=True):
            gap, se = gap_and_se(table, *member)
            deviations.append(abs(gap - estimate) / se)
        largest.append(max(deviations))
    c = sorted(largest)[int(np.ceil(0.95 * (len(largest) - 1)))]
    return [(estimate - c * se, estimate + c * se) for estimate, se in estimates]


@pytest.mark.parametrize("name", ["demographic_parity_ratio", "equalized_odds_difference"])
def test_the_audit_replays_by_hand(name: str) -> None:
    """Replaying the audit's own draws: its summary interval is built from the max-T bounds of every pair, and
    those are what a loop over pairs and resamples gives."""
    labels, decisions, scores, groups = synthetic(800, gap=0.04, seed=21)
    audit = run(labels, decisions, scores, groups, n_boot=300, rng=np.random.default_rng(4))
    counts = confusion.confusion_counts(
        pd.Categorical(groups, categories=["a", "b", "c"]).codes, labels, decisions, n_groups=3
    )
    drawn = resample_cell_counts(counts, n_boot=300, rng=np.random.default_rng(4))
    expected = by_hand(counts, drawn, parity.DISPARITIES[name], log=name.endswith("ratio"))
    family = simultaneous.pair_bounds(counts, drawn, name, eligible=np.ones(3, bool), level=0.95)
    np.testing.assert_allclose(np.c_[family.low, family.high], expected, rtol=1e-12)
    far = max(max(abs(low), abs(high)) for low, high in expected)
    near = max(0.0 if low <= 0 <= high else min(abs(low), abs(high)) for low, high in expected)
    bounds = (np.exp(-far), np.exp(-near)) if name.endswith("ratio") else (near, min(far, 1.0))
    estimate = audit.disparities[name]
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx(bounds, rel=1e-12)
    assert estimate.ci_low <= estimate.value <= estimate.ci_high
