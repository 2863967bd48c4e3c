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


def test_the_logistic_baseline_reads_the_fields_the_model_reads(spec_dict) -> None:  # type: ignore[no-untyped-def]
    """'Baseline vs model' compares the same inputs: the template's fields, sensitive ones included; the
    all-columns baseline reads every non-label, non-sensitive column."""
    from pathlib import Path

    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from fmaudit.data import prepare, template_fields
    from fmaudit.performance.figures import baseline_scores
    from fmaudit.spec import DataSpec

    spec_dict["data"]["max_rows"] = 300
    data = prepare(DataSpec.model_validate(spec_dict["data"]), base_dir=Path.cwd())
    fields = template_fields(spec_dict["data"]["template"])
    scores = baseline_scores(data, fields=fields)

    numeric = ["duration_in_month", "age_in_years"]
    categorical = [f for f in fields if f not in numeric]
    assert "personal_status_and_sex" in categorical  # the model reads it, so the baseline does too
    reference = make_pipeline(
        ColumnTransformer(
            [("n", StandardScaler(), numeric), ("c", OneHotEncoder(handle_unknown="ignore"), categorical)]
        ),
        LogisticRegression(max_iter=2000),
    ).fit(data.frame.iloc[data.train_idx][fields], data.labels[data.train_idx])
    expected = reference.predict_proba(data.frame.iloc[data.test_idx][fields])[:, 1]
    assert np.allclose(scores["logistic_regression"], expected)
    assert "personal_status_and_sex" not in data.feature_columns and "purpose" in data.feature_columns
    assert not np.allclose(scores["logistic_regression_all_columns"], expected)
    assert set(scores["majority"]) == {float(data.labels[data.train_idx].mean() >= 0.5)}
