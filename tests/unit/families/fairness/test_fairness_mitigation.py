"""The ThresholdOptimizer what-if equals fairlearn run directly on the same split."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from fmaudit.families.fairness.mitigation import CONSTRAINTS, split_halves, threshold_what_if


@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_threshold_what_if_equals_fairlearn_run_directly(constraint: str) -> None:
    rng = np.random.default_rng(0)
    n = 1200
    groups = rng.choice(["f", "m"], size=n, p=[0.4, 0.6])
    features = rng.normal(size=(n, 2)) + np.where(groups == "m", 0.6, 0.0)[:, None]
    labels = (features[:, 0] + rng.normal(0, 1, n) > 0.3).astype(int)
    model = LogisticRegression().fit(features, labels)
    scores = model.predict_proba(features)[:, 1]
    fit, evaluate = split_halves(labels, fit_share=0.5, seed=4)

    mine = threshold_what_if(
        labels=labels,
        scores=scores,
        groups=groups,
        constraint=constraint,
        fit_rows=fit,
        eval_rows=evaluate,
        seed=4,
    )

    direct = ThresholdOptimizer(
        estimator=model, constraints=constraint, objective="accuracy_score", prefit=True, predict_method="predict_proba"
    ).fit(features[fit], labels[fit], sensitive_features=groups[fit])
    after = direct.predict(features[evaluate], sensitive_features=groups[evaluate], random_state=4)
    before = model.predict(features[evaluate])
    y, g = labels[evaluate], groups[evaluate]
    assert (mine.rows_fitted, mine.rows_evaluated) == (len(fit), len(evaluate))
    assert mine.accuracy_before == pytest.approx(accuracy_score(y, before))
    assert mine.accuracy_after == pytest.approx(accuracy_score(y, after))
    assert mine.demographic_parity_difference_before == pytest.approx(
        demographic_parity_difference(y, before, sensitive_features=g)
    )
    assert mine.demographic_parity_difference_after == pytest.approx(
        demographic_parity_difference(y, after, sensitive_features=g)
    )
    assert mine.equalized_odds_difference_after == pytest.approx(
        equalized_odds_difference(y, after, sensitive_features=g)
    )
    # The what-if is not vacuous: the constrained thresholds narrow the gap they target.
    target = "demographic_parity" if constraint == "demographic_parity" else "equalized_odds"
    assert getattr(mine, f"{target}_difference_after") < getattr(mine, f"{target}_difference_before")
