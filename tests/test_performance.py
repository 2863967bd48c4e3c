"""Performance figures against scikit-learn, and the calibration error on known cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

from fmaudit.performance.figures import expected_calibration_error, score_figures


def test_ece_of_a_perfectly_calibrated_and_a_miscalibrated_model() -> None:
    labels = np.array([1, 0] * 50)
    assert expected_calibration_error(labels, np.full(100, 0.5)) == pytest.approx(0.0)
    # Always 0.9 confident while half are favourable: the gap is 0.4.
    assert expected_calibration_error(labels, np.full(100, 0.9)) == pytest.approx(0.4)
    # Two bins, each with its own gap, weighted by size.
    scores = np.r_[np.full(50, 0.15), np.full(50, 0.85)]
    labels = np.r_[np.zeros(40), np.ones(10), np.ones(45), np.zeros(5)]
    assert expected_calibration_error(labels, scores) == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)


def test_figures_equal_sklearn() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = np.clip(labels * 0.3 + rng.random(200) * 0.7, 0, 1)
    figures = score_figures(labels, scores)
    decisions = (scores >= 0.5).astype(int)
    assert figures["accuracy"] == pytest.approx(accuracy_score(labels, decisions))
    assert figures["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, decisions))
    assert figures["f1"] == pytest.approx(f1_score(labels, decisions))
    assert figures["roc_auc"] == pytest.approx(roc_auc_score(labels, scores))


def test_auc_is_undefined_with_one_class() -> None:
    assert score_figures(np.ones(10, dtype=int), np.linspace(0, 1, 10))["roc_auc"] is None


def test_intervals_bracket_the_estimate_and_narrow_with_more_rows() -> None:
    from fmaudit.performance.figures import bootstrap_intervals
    from fmaudit.performance.params import PerformanceParams

    def width(n: int) -> tuple[float, float, float]:
        rng = np.random.default_rng(1)
        labels = rng.integers(0, 2, n)
        scores = np.clip(0.5 + 0.2 * (labels - 0.5) + rng.normal(0, 0.2, n), 0, 1)
        intervals = bootstrap_intervals(labels, scores, PerformanceParams(n_boot=300))
        auc = roc_auc_score(labels, scores)
        return intervals["roc_auc"].low, auc, intervals["roc_auc"].high

    low, auc, high = width(200)
    assert low < auc < high
    wide = high - low
    low, auc, high = width(3200)
    assert low < auc < high
    # Standard errors shrink like 1/sqrt(n): 16x the rows, about a quarter of the width.
    assert (high - low) == pytest.approx(wide / 4, rel=0.35)


def test_intervals_are_seeded() -> None:
    from fmaudit.performance.figures import bootstrap_intervals
    from fmaudit.performance.params import PerformanceParams

    rng = np.random.default_rng(2)
    labels, scores = rng.integers(0, 2, 100), rng.random(100)
    first = bootstrap_intervals(labels, scores, PerformanceParams(n_boot=50, seed=4))
    assert first == bootstrap_intervals(labels, scores, PerformanceParams(n_boot=50, seed=4))
    assert first != bootstrap_intervals(labels, scores, PerformanceParams(n_boot=50, seed=5))
