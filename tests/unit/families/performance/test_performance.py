"""Performance figures against scikit-learn, and the calibration error on known cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

from fmaudit.metrics.scores import expected_calibration_error, score_figures


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
    from fmaudit.families.performance.bootstrap import bootstrap_intervals
    from fmaudit.families.performance.params import PerformanceParams

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
    from fmaudit.families.performance.bootstrap import bootstrap_intervals
    from fmaudit.families.performance.params import PerformanceParams

    rng = np.random.default_rng(2)
    labels, scores = rng.integers(0, 2, 100), rng.random(100)
    first = bootstrap_intervals(labels, scores, PerformanceParams(n_boot=50, seed=4))
    assert first == bootstrap_intervals(labels, scores, PerformanceParams(n_boot=50, seed=4))
    assert first != bootstrap_intervals(labels, scores, PerformanceParams(n_boot=50, seed=5))


def test_a_constant_model_is_degenerate_and_a_learning_one_is_not() -> None:
    from fmaudit.core.intervals import Interval
    from fmaudit.families.performance.degenerate import assess, degeneracy_metrics, degeneracy_sentence

    def decisions(favourable: int, total: int = 300) -> np.ndarray:
        return np.r_[np.ones(favourable), np.zeros(total - favourable)].astype(int)

    constant = assess(decisions(300), 0.5, Interval(0.5, 0.5, 0.0), min_decision_share=0.05)
    assert constant.constant and constant.like_majority and constant.flagged
    figures = {m.path: m for m in degeneracy_metrics(constant)}
    assert figures["performance.degenerate"].value == 1.0 and figures["performance.favourable_rate"].value == 1.0
    assert figures["performance.lift_over_majority"].value == 0.0
    assert degeneracy_sentence(constant).startswith("DEGENERATE MODEL")

    # 97% approvals (the demo's old DP model): nearly constant although its interval clears 0.5.
    nearly = assess(decisions(291), 0.53, Interval(0.51, 0.56, 0.0), min_decision_share=0.05)
    assert nearly.constant and not nearly.like_majority and nearly.flagged

    # Mixed decisions, but a balanced-accuracy interval that still holds the majority's 0.5.
    lucky = assess(decisions(150), 0.54, Interval(0.48, 0.60, 0.0), min_decision_share=0.05)
    assert not lucky.constant and lucky.like_majority and lucky.flagged
    lift = {m.path: m for m in degeneracy_metrics(lucky)}["performance.lift_over_majority"]
    assert (lift.value, lift.ci_low, lift.ci_high) == pytest.approx((0.04, -0.02, 0.10))

    learned = assess(decisions(200), 0.66, Interval(0.60, 0.72, 0.0), min_decision_share=0.05)
    assert not learned.flagged and "DEGENERATE" not in degeneracy_sentence(learned)


def test_a_spec_whose_model_decides_alike_for_everyone_fails_its_gate(tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The model reads one field that is the same on every row: whatever it learns, every decision is the
    same, so its accuracy passes a naive gate while the degenerate-model gate fails the run (exit 1)."""
    import json

    import pandas as pd
    import yaml

    from fmaudit.core.errors import ExitCode
    from tests.support.runs import run_cli

    rng = np.random.default_rng(0)
    pd.DataFrame(
        {
            "note": "applicant",
            "sex": rng.choice(["female", "male"], 200),
            "outcome": np.where(rng.random(200) < 0.7, "good", "bad"),
        }
    ).to_csv(tmp_path / "constant.csv", index=False)
    spec = {
        "name": "constant",
        "model": {"kind": "tabular", "hidden": [4]},
        "data": {
            "source": "constant.csv",
            "label": "outcome",
            "positive": "good",
            "sensitive": {"sex": {"column": "sex"}},
            "template": "{note}",
        },
        "training": {"epochs": 3, "batch_size": 32, "learning_rate": 0.05},
        "audits": {"performance": {"n_boot": 200}},
        "gates": ["performance.accuracy >= 0.6", "performance.degenerate <= 0"],
    }
    path = tmp_path / "constant.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out, cache = str(tmp_path / "out"), str(tmp_path / "cache")
    code, stdout = run_cli(["run", str(path), "--out", out, "--cache-dir", cache, "--quiet"])
    assert code == ExitCode.GATES_FAILED
    assert "1 passed, 1 failed" in stdout
    findings = json.loads(next((tmp_path / "out").rglob("findings.json")).read_text())
    performance = findings["metrics"]["performance"]
    assert performance["degenerate"]["value"] == 1.0
    assert performance["favourable_rate"]["value"] in (0.0, 1.0)
    assert performance["lift_over_majority"]["value"] == pytest.approx(0.0)


def test_the_logistic_baseline_reads_the_fields_the_model_reads(spec_dict) -> None:  # type: ignore[no-untyped-def]
    """'Baseline vs model' compares the same inputs: the template's fields, sensitive ones included; the
    all-columns baseline reads every non-label, non-sensitive column."""
    from pathlib import Path

    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from fmaudit.data import prepare, template_fields
    from fmaudit.families.performance.baselines import baseline_scores
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
