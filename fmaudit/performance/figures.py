"""Score figures for one set of test-split scores, and the baselines a fine-tuned
model must beat (model-risk validation, SR 11-7 outcomes analysis: a majority-class predictor and a
logistic regression on the same inputs; a second logistic regression on every usable column shows what the
template leaves out)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fmaudit.data import PreparedData


def score_bins(scores: np.ndarray, bins: int) -> np.ndarray:
    """Each score's equal-width bin on [0, 1] (the reliability diagram's bins), shared by every ECE figure."""
    return np.clip(np.digitize(scores, np.linspace(0.0, 1.0, bins + 1)[1:-1], right=True), 0, bins - 1)


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, *, bins: int = 10) -> float:
    """ECE (Guo et al. 2017): bin-size-weighted |accuracy - confidence| over equal-width score bins.

    Computed on the favourable-class probability, i.e. the reliability diagram's gap.
    """
    which = score_bins(scores, bins)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(labels[in_bin].mean() - scores[in_bin].mean())
    return float(total)


def score_figures(
    labels: np.ndarray, scores: np.ndarray, *, threshold: float = 0.5, ece_bins: int = 10
) -> dict[str, float | None]:
    """All performance figures for one set of scores (None where undefined, e.g. AUC on one class)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

    decisions = (scores >= threshold).astype(int)
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": float(accuracy_score(labels, decisions)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, decisions)) if both_classes else None,
        "f1": float(f1_score(labels, decisions, zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, scores)) if both_classes else None,
        "ece": expected_calibration_error(labels, scores, bins=ece_bins),
    }


def baseline_scores(data: PreparedData, *, fields: list[str]) -> dict[str, np.ndarray]:
    """Test-split scores of the majority class, of a logistic regression on ``fields`` (the columns the model
    reads through its template: the same inputs), and of one on every non-label, non-sensitive column."""
    y_train = data.labels[data.train_idx]
    return {
        "majority": np.full(len(data.test_idx), float(y_train.mean() >= 0.5)),
        "logistic_regression": _logistic_regression(data, fields),
        "logistic_regression_all_columns": _logistic_regression(data, data.feature_columns),
    }


def _logistic_regression(data: PreparedData, columns: list[str]) -> np.ndarray:
    """Test-split P(favourable) of a logistic regression fitted on the training split's ``columns``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = data.frame[columns]
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in frame.columns if c not in numeric]
    train, test = frame.iloc[data.train_idx], frame.iloc[data.test_idx]
    y_train = data.labels[data.train_idx]
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("numeric", StandardScaler(), numeric),
                ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
            ]
        ),
        LogisticRegression(max_iter=2000),
    )
    pipeline.fit(train, y_train)
    return np.asarray(pipeline.predict_proba(test)[:, 1], dtype=np.float64)
