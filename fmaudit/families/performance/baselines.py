"""The baselines a fine-tuned model must beat (model-risk validation, SR 11-7 outcomes analysis): a
majority-class predictor and a logistic regression on the same inputs; a second logistic regression on every
usable column shows what the template leaves out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fmaudit.data import PreparedData


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
