"""Fairness figures equal fairlearn's own functions; small and unknown groups are excluded, not dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from fmaudit.data import UNKNOWN_GROUP
from fmaudit.plugins.fairness import audit_attribute


@pytest.fixture
def predictions() -> tuple[np.ndarray, np.ndarray, pd.Series]:
    rng = np.random.default_rng(3)
    n = 600
    groups = pd.Series(rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.4, 0.1]))
    labels = rng.integers(0, 2, n)
    bias = groups.map({"a": 0.15, "b": -0.1, "c": 0.0}).to_numpy()
    decisions = (rng.random(n) < 0.5 + bias).astype(int)
    return labels, decisions, groups


def test_disparities_equal_fairlearn(predictions) -> None:  # type: ignore[no-untyped-def]
    labels, decisions, groups = predictions
    result = audit_attribute(labels, decisions, groups, min_size=1)
    kwargs = {"sensitive_features": groups}
    assert result.disparities["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(labels, decisions, **kwargs)
    )
    assert result.disparities["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(labels, decisions, **kwargs)
    )
    assert result.disparities["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(labels, decisions, **kwargs)
    )
    assert result.disparities["equalized_odds_ratio"] == pytest.approx(
        equalized_odds_ratio(labels, decisions, **kwargs)
    )
    for group in "abc":
        mask = (groups == group).to_numpy()
        row = result.by_group.loc[group]
        assert row["count"] == mask.sum()
        assert row["selection_rate"] == pytest.approx(selection_rate(labels[mask], decisions[mask]))
        assert row["tpr"] == pytest.approx(true_positive_rate(labels[mask], decisions[mask]))
        assert row["fpr"] == pytest.approx(false_positive_rate(labels[mask], decisions[mask]))


def test_small_groups_are_reported_but_excluded_from_disparities(predictions) -> None:  # type: ignore[no-untyped-def]
    labels, decisions, groups = predictions
    small = int((groups == "c").sum())
    result = audit_attribute(labels, decisions, groups, min_size=small + 1)
    assert "c" in result.by_group.index
    assert result.excluded == {"c": f"{small} rows < minimum {small + 1}"}
    keep = (groups != "c").to_numpy()
    assert result.disparities["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(labels[keep], decisions[keep], sensitive_features=groups[keep])
    )


def test_unknown_group_is_counted_and_excluded() -> None:
    groups = pd.Series(["a"] * 30 + ["b"] * 30 + [UNKNOWN_GROUP] * 30)
    labels = np.tile([0, 1], 45)
    decisions = np.r_[np.ones(30), np.zeros(30), np.ones(30)].astype(int)
    result = audit_attribute(labels, decisions, groups, min_size=1)
    assert int(result.by_group.loc[UNKNOWN_GROUP, "count"]) == 30
    assert result.excluded == {UNKNOWN_GROUP: "sensitive value missing"}
    assert result.disparities["demographic_parity_difference"] == pytest.approx(1.0)


def test_fewer_than_two_comparable_groups_gives_no_disparity() -> None:
    groups = pd.Series(["a"] * 40 + ["b"] * 3)
    result = audit_attribute(np.ones(43, dtype=int), np.ones(43, dtype=int), groups, min_size=10)
    assert result.eligible == ["a"]
    assert all(value is None for value in result.disparities.values())
