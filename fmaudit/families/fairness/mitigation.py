"""Mitigation what-if: what would closing the gap cost?

fairlearn's ThresholdOptimizer (Hardt et al. 2016) learns group-specific
thresholds on the model's scores under a demographic-parity or equalized-odds
constraint. It is fitted on one half of the test split and evaluated on the
other, next to the model's own decisions on that half. Report-only: the
audited model is not changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CONSTRAINTS = ("demographic_parity", "equalized_odds")


@dataclass(frozen=True)
class MitigationResult:
    constraint: str
    rows_fitted: int
    rows_evaluated: int
    accuracy_before: float
    accuracy_after: float
    demographic_parity_difference_before: float
    demographic_parity_difference_after: float
    equalized_odds_difference_before: float
    equalized_odds_difference_after: float


def _score_passthrough() -> Any:
    """A pre-fitted scikit-learn estimator whose prediction is the model score given as its only feature."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class ScorePassthrough(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
        def fit(self, X: Any, y: Any) -> Any:
            self.fitted_ = True
            return self

        def predict(self, X: Any) -> np.ndarray:
            return np.asarray(X, dtype=float)[:, 0]

    return ScorePassthrough().fit(None, None)


def split_halves(labels: np.ndarray, *, fit_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the fitting and the evaluation rows, stratified on the label."""
    from sklearn.model_selection import train_test_split

    fit, evaluate = train_test_split(np.arange(len(labels)), train_size=fit_share, random_state=seed, stratify=labels)
    return np.sort(fit), np.sort(evaluate)


def threshold_what_if(
    *,
    labels: np.ndarray,
    scores: np.ndarray,
    groups: np.ndarray,
    constraint: str,
    fit_rows: np.ndarray,
    eval_rows: np.ndarray,
    threshold: float = 0.5,
    seed: int = 0,
) -> MitigationResult:
    """Fit ThresholdOptimizer on ``fit_rows`` and compare before/after on ``eval_rows``."""
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.metrics import accuracy_score

    optimizer = ThresholdOptimizer(
        estimator=_score_passthrough(),
        constraints=constraint,
        objective="accuracy_score",
        prefit=True,
        predict_method="predict",
    )
    X = scores.reshape(-1, 1)
    optimizer.fit(X[fit_rows], labels[fit_rows], sensitive_features=groups[fit_rows])
    after = np.asarray(optimizer.predict(X[eval_rows], sensitive_features=groups[eval_rows], random_state=seed))
    y, g = labels[eval_rows], groups[eval_rows]
    before = (scores[eval_rows] >= threshold).astype(int)
    return MitigationResult(
        constraint=constraint,
        rows_fitted=len(fit_rows),
        rows_evaluated=len(eval_rows),
        accuracy_before=float(accuracy_score(y, before)),
        accuracy_after=float(accuracy_score(y, after)),
        demographic_parity_difference_before=float(demographic_parity_difference(y, before, sensitive_features=g)),
        demographic_parity_difference_after=float(demographic_parity_difference(y, after, sensitive_features=g)),
        equalized_odds_difference_before=float(equalized_odds_difference(y, before, sensitive_features=g)),
        equalized_odds_difference_after=float(equalized_odds_difference(y, after, sensitive_features=g)),
    )
