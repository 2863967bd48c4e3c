"""Coverage of the fairness intervals, simulated: 400 data sets drawn at once, each bootstrapped with the
audit's own machinery (cell-count resampling, signed gaps to a fixed reference, percentile bounds).

Under no effect the 95% intervals of rate(g) − rate(ref) must cover 0, and those of rate(g) / rate(ref)
cover 1, in 92–98% of data sets; with a planted gap they must cover the true gap in at least 90%.
"""

from __future__ import annotations

import numpy as np
import pytest

from fmaudit.core.intervals import percentile_bounds, resample_cell_counts
from fmaudit.families.fairness import group_metrics as gm
from fmaudit.metrics import confusion

DATA_SETS = 400
ROWS = 1000
SHARES = (0.5, 0.3, 0.2)  # group 0 is the largest: the default reference


def bootstrap_many(selection: tuple[float, ...], *, tpr: float, fpr: float, seed: int) -> tuple[dict, dict]:
    """Point rates ``(data sets, groups)`` and resampled rates ``(resamples, data sets, groups)``.

    Decisions depend on the label (TPR, FPR) and on the group only through ``selection``'s shift.
    """
    rng = np.random.default_rng(seed)
    groups = rng.choice(len(SHARES), size=(DATA_SETS, ROWS), p=SHARES)
    labels = rng.integers(0, 2, size=(DATA_SETS, ROWS))
    shift = np.asarray(selection)[groups] - selection[0]
    decisions = (rng.random((DATA_SETS, ROWS)) < np.where(labels == 1, tpr, fpr) + shift).astype(int)
    counts = np.stack(
        [confusion.confusion_counts(groups[s], labels[s], decisions[s], n_groups=len(SHARES)) for s in range(DATA_SETS)]
    )
    resampled = np.stack([resample_cell_counts(c, n_boot=1000, rng=rng) for c in counts], axis=1)
    return confusion.rates(counts), confusion.rates(resampled)


def coverage(resampled: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per group, the share of data sets whose 95% interval covers the group's true value."""
    bounds = percentile_bounds(resampled, level=0.95)
    assert bounds.undefined_share.max() == 0.0
    return ((bounds.low <= truth) & (truth <= bounds.high)).mean(axis=0)


@pytest.fixture(scope="module")
def no_effect() -> tuple[dict, dict]:
    return bootstrap_many((0.5, 0.5, 0.5), tpr=0.65, fpr=0.35, seed=1)


@pytest.fixture(scope="module")
def planted() -> tuple[dict, dict]:
    return bootstrap_many((0.5, 0.35, 0.45), tpr=0.65, fpr=0.35, seed=2)


@pytest.mark.parametrize("rate", ["selection_rate", "tpr", "fpr"])
def test_under_no_effect_the_signed_intervals_cover_parity(no_effect, rate) -> None:  # type: ignore[no-untyped-def]
    point, resampled = no_effect
    assert (point["count"].argmax(axis=1) == 0).mean() > 0.99  # group 0 is the reference in (almost) every set
    difference, ratio = gm.versus_reference(resampled[rate], 0)
    for covered in (coverage(difference, np.zeros(3))[1:], coverage(ratio, np.ones(3))[1:]):
        assert ((covered >= 0.92) & (covered <= 0.98)).all(), covered


def test_with_a_planted_gap_the_intervals_cover_the_true_gap(planted) -> None:  # type: ignore[no-untyped-def]
    _, resampled = planted
    truth = np.array([0.5, 0.35, 0.45])
    difference, ratio = gm.versus_reference(resampled["selection_rate"], 0)
    assert (coverage(difference, truth - truth[0])[1:] >= 0.90).all()
    assert (coverage(ratio, truth / truth[0])[1:] >= 0.90).all()
    # ... and the gap of 0.15 (3.3 standard errors) is seen: power about 90%.
    bounds = percentile_bounds(difference[..., 1], level=0.95)
    assert (bounds.high < 0).mean() > 0.8
