"""Leakage: a single column that predicts the label almost perfectly is more likely a record of the outcome (a
status set after the decision, a label re-coded) than a feature, and a model that reads it learns nothing a
decision can use.

Each column alone is scored out of fold (stratified ``folds``-fold cross-validation, seeded): a categorical column,
or a numeric one with at most ``CATEGORIES`` distinct values, by its value's favourable rate in the other folds
(a value unseen there: their overall rate); a numeric column by its value, oriented by its ROC AUC in the other
folds. The ROC AUC of the out-of-fold scores is the column's; at or above ``leak_roc_auc`` it is a leak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmaudit.data import is_numeric

CATEGORIES = 20
"""A numeric column with at most this many distinct values is scored like a categorical one."""


@dataclass(frozen=True)
class ColumnAuc:
    column: str
    roc_auc: float | None
    """Cross-validated ROC AUC of the column alone; None where the label has one class in a fold."""
    numeric: bool


def column_aucs(frame: pd.DataFrame, labels: np.ndarray, *, folds: int, seed: int) -> list[ColumnAuc]:
    """Every column's out-of-fold ROC AUC for ``labels``."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    if min(np.bincount(labels, minlength=2)) < folds:
        return [ColumnAuc(str(c), None, is_numeric(frame[c])) for c in frame.columns]
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels))
    found = []
    for column in frame.columns:
        values = frame[column]
        ranked = is_numeric(values) and values.nunique() > CATEGORIES
        scores = np.empty(len(labels))
        for fit, held in splits:
            scores[held] = (_oriented if ranked else _rate_of_value)(values, labels, fit, held)
        found.append(ColumnAuc(str(column), float(roc_auc_score(labels, scores)), ranked))
    return found


def _rate_of_value(values: pd.Series, labels: np.ndarray, fit: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Held-out rows scored by their value's favourable rate in the fitting rows (a missing value is a value)."""
    keys = values.astype("string").fillna("\x00missing")
    rates = pd.Series(labels[fit]).groupby(keys.iloc[fit].to_numpy()).mean()
    return keys.iloc[held].map(rates).fillna(labels[fit].mean()).to_numpy(dtype=np.float64)


def _oriented(values: pd.Series, labels: np.ndarray, fit: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Held-out rows scored by their value, negated where the fitting rows' ROC AUC is below one half; a missing
    value scores as the fitting rows' median."""
    from sklearn.metrics import roc_auc_score

    numbers = values.to_numpy(dtype=np.float64)
    fill = np.nanmedian(numbers[fit]) if np.isfinite(numbers[fit]).any() else 0.0
    numbers = np.where(np.isnan(numbers), fill, numbers)
    sign = 1.0 if roc_auc_score(labels[fit], numbers[fit]) >= 0.5 else -1.0
    return sign * numbers[held]
