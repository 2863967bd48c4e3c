"""Fairness: point estimates equal fairlearn's; intervals agree with fairlearn's bootstrap; planted gaps
are found and absent ones are not; degenerate groups give findings, not crashes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from fmaudit.data import UNKNOWN_GROUP
from fmaudit.fairness import group_metrics as gm
from fmaudit.fairness.attribute import MOST_FAVOURED, audit_attribute


def synthetic(n: int, *, gap: float = 0.15, seed: int = 3, shares=(0.5, 0.4, 0.1)):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    groups = pd.Series(rng.choice(["a", "b", "c"], size=n, p=list(shares)))
    labels = rng.integers(0, 2, n)
    bias = groups.map({"a": gap / 2, "b": -gap / 2, "c": 0.0}).to_numpy()
    scores = np.clip(0.5 + bias + 0.25 * (labels - 0.5) + rng.normal(0, 0.15, n), 0, 1)
    return labels, (scores >= 0.5).astype(int), scores, groups


def run(labels, decisions, scores, groups, **kwargs):  # type: ignore[no-untyped-def]
    options = {"min_size": 1, "reference": None, "n_boot": 200, "confidence": 0.95, "rng": np.random.default_rng(0)}
    options.update(kwargs)
    return audit_attribute(
        labels=labels, decisions=decisions, scores=scores, groups=groups, all_groups=sorted(set(groups)), **options
    )


def test_point_estimates_equal_fairlearn() -> None:
    labels, decisions, scores, groups = synthetic(900)
    audit = run(labels, decisions, scores, groups)
    kw = {"sensitive_features": groups}
    d = audit.disparities
    assert d["demographic_parity_difference"].value == pytest.approx(
        demographic_parity_difference(labels, decisions, **kw)
    )
    assert d["demographic_parity_ratio"].value == pytest.approx(demographic_parity_ratio(labels, decisions, **kw))
    assert d["equalized_odds_difference"].value == pytest.approx(equalized_odds_difference(labels, decisions, **kw))
    assert d["equalized_odds_ratio"].value == pytest.approx(equalized_odds_ratio(labels, decisions, **kw))
    assert d["equal_opportunity_difference"].value == pytest.approx(
        equal_opportunity_difference(labels, decisions, **kw)
    )
    frame = MetricFrame(
        metrics={
            "sr": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "fnr": false_negative_rate,
        },
        y_true=labels,
        y_pred=decisions,
        sensitive_features=groups,
    ).by_group
    for group in "abc":
        row = audit.by_group.loc[group]
        assert row[["selection_rate", "tpr", "fpr", "fnr"]].to_numpy() == pytest.approx(frame.loc[group].to_numpy())
        assert row["count"] == (groups == group).sum()


def test_the_bootstrap_statistic_is_the_reported_statistic() -> None:
    """Intervals bracket the same figure: the array machinery on the original sample equals fairlearn's values."""
    labels, decisions, scores, groups = synthetic(700)
    audit = run(labels, decisions, scores, groups)
    codes = pd.Categorical(groups, categories=["a", "b", "c"]).codes
    counts = gm.confusion_counts(codes, labels, decisions, n_groups=3)
    mine = gm.rates(counts[None])
    mine.update(gm.score_metrics(np.ones((1, len(labels))), codes, labels, scores, n_groups=3))
    for figure in ("selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy", "base_rate", "ece", "mean_score"):
        assert mine[figure][0] == pytest.approx(audit.by_group.loc[["a", "b", "c"], figure].to_numpy()), figure
    eligible = np.ones(3, dtype=bool)
    for name, estimate in audit.disparities.items():
        assert gm.disparity(mine, name, eligible=eligible, reference=None)[0] == pytest.approx(estimate.value), name


def test_intervals_agree_with_fairlearns_bootstrap_within_monte_carlo_error() -> None:
    labels, decisions, scores, groups = synthetic(2000, seed=11)
    audit = run(labels, decisions, scores, groups, n_boot=1000, rng=np.random.default_rng(5))
    theirs = MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=labels,
        y_pred=decisions,
        sensitive_features=groups,
        n_boot=200,
        ci_quantiles=[0.025, 0.975],
        random_state=7,
    )
    low, high = theirs.by_group_ci
    for figure in ("selection_rate", "tpr", "fpr"):
        for group in "abc":
            width = high.loc[group, figure] - low.loc[group, figure]
            # Endpoints of two independent bootstraps differ by Monte-Carlo error: a small share of the width.
            assert audit.ci_low.loc[group, figure] == pytest.approx(low.loc[group, figure], abs=0.25 * width)
            assert audit.ci_high.loc[group, figure] == pytest.approx(high.loc[group, figure], abs=0.25 * width)
    diff_low, diff_high = theirs.difference_ci()
    dp = audit.disparities["demographic_parity_difference"]
    width = diff_high["selection_rate"] - diff_low["selection_rate"]
    assert dp.ci_low == pytest.approx(diff_low["selection_rate"], abs=0.25 * width)
    assert dp.ci_high == pytest.approx(diff_high["selection_rate"], abs=0.25 * width)


def test_a_planted_gap_is_covered_by_its_interval_in_most_seeds() -> None:
    """True selection-rate gap between a and b is known in the population: the interval should cover it ~95%."""
    covered, excluded_zero = 0, 0
    seeds = range(30)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        n = 1200
        groups = pd.Series(rng.choice(["a", "b"], size=n))
        decisions = (rng.random(n) < np.where(groups == "a", 0.60, 0.45)).astype(int)
        labels = rng.integers(0, 2, n)
        audit = run(labels, decisions, decisions.astype(float), groups, n_boot=300, rng=np.random.default_rng(seed))
        dp = audit.disparities["demographic_parity_difference"]
        covered += dp.ci_low <= 0.15 <= dp.ci_high
        excluded_zero += dp.ci_low > 0
    assert covered >= 0.85 * len(seeds)
    assert excluded_zero == len(seeds)


def test_no_gap_gives_an_interval_around_parity() -> None:
    hits = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        n = 1200
        groups = pd.Series(rng.choice(["a", "b"], size=n))
        decisions = (rng.random(n) < 0.5).astype(int)
        audit = run(rng.integers(0, 2, n), decisions, decisions.astype(float), groups, rng=np.random.default_rng(seed))
        ratio = audit.disparities["demographic_parity_ratio"]
        hits += ratio.ci_high >= 0.95
    assert hits >= 18


def test_reference_group_disparities() -> None:
    labels, decisions, scores, groups = synthetic(900)
    audit = run(labels, decisions, scores, groups, reference="b")
    rates = audit.by_group["selection_rate"]
    assert audit.reference == "b"
    assert audit.by_group.loc["a", "impact_ratio"] == pytest.approx(rates["a"] / rates["b"])
    expected = max(abs(rates["a"] - rates["b"]), abs(rates["c"] - rates["b"]))
    assert audit.disparities["demographic_parity_difference"].value == pytest.approx(expected)
    assert run(labels, decisions, scores, groups).reference == MOST_FAVOURED


def test_small_unknown_and_empty_groups_are_reported_but_not_compared() -> None:
    groups = pd.Series(["a"] * 50 + ["b"] * 50 + ["c"] * 4 + [UNKNOWN_GROUP] * 10)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, len(groups))
    decisions = rng.integers(0, 2, len(groups))
    audit = audit_attribute(
        labels=labels,
        decisions=decisions,
        scores=decisions.astype(float),
        groups=groups,
        all_groups=["a", "b", "c", "d", UNKNOWN_GROUP],
        min_size=10,
        reference=None,
        n_boot=100,
        confidence=0.95,
        rng=rng,
    )
    assert audit.excluded == {
        "c": "insufficient data: 4 rows < minimum 10",
        "d": "no rows",
        UNKNOWN_GROUP: "sensitive value missing (10 rows)",
    }
    assert audit.by_group.loc["d", "count"] == 0 and np.isnan(audit.by_group.loc["d", "selection_rate"])
    assert np.isnan(audit.by_group.loc["c", "impact_ratio"])
    keep = groups.isin(["a", "b"]).to_numpy()
    assert audit.disparities["demographic_parity_difference"].value == pytest.approx(
        demographic_parity_difference(labels[keep], decisions[keep], sensitive_features=groups[keep])
    )


def test_degenerate_groups_give_findings_not_crashes() -> None:
    groups = pd.Series(["a"] * 40 + ["b"] * 40)
    labels = np.r_[np.ones(40, dtype=int), np.tile([0, 1], 20)]  # group a has one class only
    decisions = np.ones(80, dtype=int)  # all-positive predictions
    audit = run(labels, decisions, decisions.astype(float), groups)
    assert np.isnan(audit.by_group.loc["a", "fpr"])  # no negatives in a: FPR undefined, not 0
    assert audit.disparities["demographic_parity_ratio"].value == pytest.approx(1.0)
    # fairlearn counts group a's undefined FPR as 0 and reports a gap of 1; only defined rates are compared here.
    assert equalized_odds_difference(labels, decisions, sensitive_features=groups) == pytest.approx(1.0)
    assert audit.disparities["equalized_odds_difference"].value == pytest.approx(0.0)


def test_fewer_than_two_comparable_groups_gives_no_disparity() -> None:
    groups = pd.Series(["a"] * 40 + ["b"] * 3)
    ones = np.ones(43, dtype=int)
    audit = run(ones, ones, ones.astype(float), groups, min_size=10)
    assert all(estimate.value is None for estimate in audit.disparities.values())


def test_every_computed_group_figure_has_a_report_label() -> None:
    from fmaudit.fairness import params as fairness
    from fmaudit.fairness.attribute import GROUP_FIGURES

    assert tuple(fairness.GROUP_FIGURES) == GROUP_FIGURES


def test_score_metric_intervals_do_not_hold_every_resample_weight_at_once(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Row weights come in chunks; the audit must use them chunk by chunk, and get the same intervals."""
    from fmaudit import intervals

    labels, decisions, scores, groups = synthetic(600)
    whole = run(labels, decisions, scores, groups, rng=np.random.default_rng(9))
    monkeypatch.setattr(intervals, "WEIGHTS_PER_CHUNK", 600 * 7)  # 200 resamples in chunks of 7
    seen: list[int] = []
    original = gm.score_metrics

    def spy(weights, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(len(weights))
        return original(weights, *args, **kwargs)

    monkeypatch.setattr(gm, "score_metrics", spy)
    chunked = run(labels, decisions, scores, groups, rng=np.random.default_rng(9))
    assert max(seen) == 7 and sum(seen) == 200
    pd.testing.assert_frame_equal(chunked.ci_low, whole.ci_low)
    pd.testing.assert_frame_equal(chunked.ci_high, whole.ci_high)
