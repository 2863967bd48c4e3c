"""The shared demographic parity ratio (what the privacy sweep reports) equals fairlearn's over the compared
groups, and the fairness family's own point estimate, with small, empty and missing-value groups in play."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fmaudit.data import UNKNOWN_GROUP
from fmaudit.families.fairness.attribute import audit_attribute
from fmaudit.metrics.parity import demographic_parity_ratio


@pytest.mark.parametrize("seed", range(5))
def test_equals_fairlearn_on_the_compared_groups_and_the_fairness_family(seed: int) -> None:
    from fairlearn.metrics import demographic_parity_ratio as fairlearn_ratio

    rng = np.random.default_rng(seed)
    groups = rng.choice(["a", "b", "c", "tiny", UNKNOWN_GROUP], size=400, p=[0.4, 0.3, 0.22, 0.01, 0.07])
    rates = {"a": 0.7, "b": 0.5, "c": 0.6, "tiny": 0.0, UNKNOWN_GROUP: 0.1}
    decisions = (rng.random(400) < np.vectorize(rates.get)(groups)).astype(np.int64)
    labels = rng.integers(0, 2, size=400)
    planned = ["a", "b", "c", "empty", "tiny", UNKNOWN_GROUP]
    ours = demographic_parity_ratio(decisions, groups, planned, min_size=20, unknown=UNKNOWN_GROUP)

    compared = np.isin(groups, ["a", "b", "c"])  # "tiny" is under 20 rows, "empty" has none, unknown is excluded
    theirs = fairlearn_ratio(labels[compared], decisions[compared], sensitive_features=groups[compared])
    assert ours == pytest.approx(theirs, abs=1e-12)
    family = audit_attribute(
        labels=labels,
        decisions=decisions,
        scores=decisions.astype(float),
        groups=pd.Series(groups),
        all_groups=planned,
        min_size=20,
        reference=None,
        n_boot=0,
        confidence=0.95,
        rng=np.random.default_rng(0),
    )
    assert ours == family.disparities["demographic_parity_ratio"].value


def test_none_where_fewer_than_two_groups_are_compared() -> None:
    groups = np.array(["a"] * 50 + ["b"] * 5)
    decisions = np.ones(55, dtype=np.int64)
    assert demographic_parity_ratio(decisions, groups, ["a", "b"], min_size=20, unknown=UNKNOWN_GROUP) is None
