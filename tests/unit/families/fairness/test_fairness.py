"""Fairness: point estimates equal fairlearn's; intervals agree with fairlearn's bootstrap; planted gaps
are found and absent ones are not; degenerate groups give findings, not crashes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
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

from fmaudit.core.intervals import resample_cell_counts
from fmaudit.data import UNKNOWN_GROUP
from fmaudit.families.fairness import group_metrics as gm
from fmaudit.families.fairness.attribute import audit_attribute
from fmaudit.metrics import confusion, parity
from tests.support.fairness import run, synthetic


def test_point_estimates_equal_fairlearn() -> None:
    """To the last bit: the reported disparities are fairlearn's, whatever reference the per-group gaps use."""
    labels, decisions, scores, groups = synthetic(900)
    theirs = fairlearn_disparities(labels, decisions, groups)
    for reference in (None, "b"):
        audit = run(labels, decisions, scores, groups, reference=reference)
        for name, value in theirs.items():
            assert audit.disparities[name].value == pytest.approx(value, rel=1e-15, abs=1e-15), (name, reference)
    for group in "abc":
        assert audit.by_group.loc[group, "count"] == (groups == group).sum()


def fairlearn_disparities(labels, decisions, groups) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Every disparity the audit reports, from fairlearn (predictive parity: MetricFrame's between-groups gap)."""
    from sklearn.metrics import precision_score

    kw = {"sensitive_features": groups}
    precision = MetricFrame(
        metrics=lambda y, d: precision_score(y, d, zero_division=np.nan), y_true=labels, y_pred=decisions, **kw
    )
    return {
        "demographic_parity_difference": demographic_parity_difference(labels, decisions, **kw),
        "demographic_parity_ratio": demographic_parity_ratio(labels, decisions, **kw),
        "equalized_odds_difference": equalized_odds_difference(labels, decisions, **kw),
        "equalized_odds_ratio": equalized_odds_ratio(labels, decisions, **kw),
        "equal_opportunity_difference": equal_opportunity_difference(labels, decisions, **kw),
        "predictive_parity_difference": precision.difference(method="between_groups"),
    }


def fairlearn_by_group(labels, decisions, scores, groups):  # type: ignore[no-untyped-def]
    """Every per-group figure the audit reports, from fairlearn's MetricFrame (one metric call per group)."""
    from sklearn.metrics import accuracy_score, precision_score

    from fmaudit.metrics.scores import expected_calibration_error

    def undefined_without(label, metric):  # type: ignore[no-untyped-def]
        return lambda y, d: metric(y, d) if (np.asarray(y) == label).any() else np.nan

    decided = MetricFrame(
        metrics={
            "count": count,
            "base_rate": lambda y, d: float(np.mean(y)),
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "tpr": undefined_without(1, true_positive_rate),
            "fpr": undefined_without(0, false_positive_rate),
            "fnr": undefined_without(1, false_negative_rate),
            "precision": lambda y, d: float(precision_score(y, d, zero_division=np.nan)),
        },
        y_true=labels,
        y_pred=decisions,
        sensitive_features=groups,
    ).by_group
    scored = MetricFrame(
        metrics={"mean_score": lambda y, s: float(np.mean(s)), "ece": expected_calibration_error},
        y_true=labels,
        y_pred=scores,
        sensitive_features=groups,
    ).by_group
    return pd.concat([decided, scored], axis=1).astype(float)


@pytest.mark.parametrize("seed", [3, 4])
def test_every_group_figure_equals_fairlearns_metric_frame(seed: int) -> None:
    """Computed from counts and score sums over the rows, not through MetricFrame: its values to 1e-12,
    including groups without positives (TPR, FNR undefined) and without selections (precision undefined)."""
    labels, decisions, scores, groups = synthetic(1500, seed=seed)
    labels[groups.to_numpy() == "c"] = 0
    decisions[groups.to_numpy() == "c"] = 0
    theirs = fairlearn_by_group(labels, decisions, scores, groups)
    ours = run(labels, decisions, scores, groups, n_boot=0).by_group.loc[list(theirs.index), list(theirs.columns)]
    assert np.isnan(theirs.loc["c", ["tpr", "fnr", "precision"]].to_numpy()).all()
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=0, atol=1e-12)


def test_the_bootstrap_statistic_is_the_reported_statistic() -> None:
    """Intervals bracket the same figure: the array machinery the resamples go through, applied to the original
    sample, gives fairlearn's per-group values (MetricFrame), its disparities and the gaps to the reference."""
    labels, decisions, scores, groups = synthetic(700)
    audit = run(labels, decisions, scores, groups)
    codes = pd.Categorical(groups, categories=["a", "b", "c"]).codes
    counts = confusion.confusion_counts(codes, labels, decisions, n_groups=3)
    mine = confusion.rates(counts[None])
    cells = gm.score_cells(codes, labels, scores, n_groups=3)
    mine.update(gm.score_metrics(cells))
    theirs = fairlearn_by_group(labels, decisions, scores, groups).loc[["a", "b", "c"]]
    for figure in ("selection_rate", "tpr", "fpr", "fnr", "precision", "accuracy", "base_rate", "ece", "mean_score"):
        assert mine[figure][0] == pytest.approx(theirs[figure].to_numpy(), abs=1e-12), figure
    fairlearns = fairlearn_disparities(labels, decisions, groups)
    assert set(audit.disparities) == set(fairlearns)
    for name, pair in audit.pairs.items():
        assert pair is not None
        assert parity.pair_gap(mine[pair.metric], name, pair)[0] == pytest.approx(fairlearns[name], abs=1e-12), name
    assert audit.reference == "a" == theirs["count"].idxmax()  # the largest group
    for rate in ("selection_rate", "tpr", "fpr"):
        difference, ratio = gm.versus_reference(mine[rate][0], 0)
        assert difference == pytest.approx((theirs[rate] - theirs.loc["a", rate]).to_numpy(), abs=1e-12), rate
        assert ratio == pytest.approx((theirs[rate] / theirs.loc["a", rate]).to_numpy(), abs=1e-12), rate
        assert audit.by_group[f"{rate}_difference"].to_numpy() == pytest.approx(difference)
        assert audit.by_group[f"{rate}_ratio"].to_numpy() == pytest.approx(ratio)


def test_group_gap_intervals_are_percentiles_of_gaps_to_the_fixed_reference() -> None:
    """Replaying the audit's own draws: every group's gap interval is the percentile interval of its signed gap
    to the reference chosen once on the full sample, never of a gap re-chosen per resample."""
    labels, decisions, scores, groups = synthetic(800, gap=0.04, seed=21)
    audit = run(labels, decisions, scores, groups, n_boot=500, rng=np.random.default_rng(4))
    counts = confusion.confusion_counts(
        pd.Categorical(groups, categories=["a", "b", "c"]).codes, labels, decisions, n_groups=3
    )
    replay = confusion.rates(resample_cell_counts(counts, n_boot=500, rng=np.random.default_rng(4)))
    difference, ratio = gm.versus_reference(replay["selection_rate"], 0)
    for g, group in enumerate("abc"):
        if group == audit.reference:
            assert np.isnan(audit.ci_low.loc[group, "selection_rate_difference"])  # 0 by definition
            continue
        assert audit.ci_low.loc[group, "selection_rate_difference"] == pytest.approx(
            np.quantile(difference[:, g], 0.025)
        )
        assert audit.ci_high.loc[group, "selection_rate_ratio"] == pytest.approx(np.quantile(ratio[:, g], 0.975))


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


def test_reference_figures_agree_with_closed_form_intervals() -> None:
    """Bootstrap intervals of rate(g) − rate(ref) and rate(g) / rate(ref) against statsmodels' Newcombe
    (difference) and Katz log (ratio) intervals: the same within Monte-Carlo error on ordinary data."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    labels, decisions, scores, groups = synthetic(3000, seed=8)
    audit = run(labels, decisions, scores, groups, n_boot=4000, rng=np.random.default_rng(2))
    ref = audit.reference
    assert ref == "a"
    n_ref = int(audit.by_group.loc[ref, "count"])
    selected_ref = round(audit.by_group.loc[ref, "selection_rate"] * n_ref)
    for group in ("b", "c"):
        n = int(audit.by_group.loc[group, "count"])
        selected = round(audit.by_group.loc[group, "selection_rate"] * n)
        for figure, method, compare in (("difference", "newcomb", "diff"), ("ratio", "log", "ratio")):
            low, high = confint_proportions_2indep(selected, n, selected_ref, n_ref, method=method, compare=compare)
            column = f"selection_rate_{figure}"
            tolerance = 0.08 * (high - low)
            assert audit.ci_low.loc[group, column] == pytest.approx(low, abs=tolerance), (group, figure)
            assert audit.ci_high.loc[group, column] == pytest.approx(high, abs=tolerance), (group, figure)


def test_no_gap_gives_intervals_that_contain_parity() -> None:
    """The reported defect: with no effect, the ratio's interval excluded 1 in every seed. Now it contains it."""
    hits = {"demographic_parity_ratio": 0, "demographic_parity_difference": 0, "selection_rate_ratio": 0}
    seeds = range(10)
    for seed in seeds:
        rng = np.random.default_rng(100 + seed)
        n = 1200
        groups = pd.Series(rng.choice(["a", "b"], size=n))
        decisions = (rng.random(n) < 0.5).astype(int)
        audit = run(rng.integers(0, 2, n), decisions, decisions.astype(float), groups, rng=np.random.default_rng(seed))
        ratio, difference = (
            audit.disparities["demographic_parity_ratio"],
            audit.disparities["demographic_parity_difference"],
        )
        hits["demographic_parity_ratio"] += ratio.ci_low <= 1 <= ratio.ci_high
        hits["demographic_parity_difference"] += difference.ci_low <= 0 <= difference.ci_high
        other = "b" if audit.reference == "a" else "a"
        hits["selection_rate_ratio"] += (
            audit.ci_low.loc[other, "selection_rate_ratio"] <= 1 <= audit.ci_high.loc[other, "selection_rate_ratio"]
        )
    assert all(count >= 8 for count in hits.values()), hits


def test_declared_reference_group() -> None:
    """A declared reference anchors the per-group figures and the impact ratio; the summary disparity keeps
    fairlearn's between-groups definition."""
    labels, decisions, scores, groups = synthetic(900)
    audit = run(labels, decisions, scores, groups, reference="b")
    rates = audit.by_group["selection_rate"]
    assert audit.reference == audit.impact_reference == "b" and audit.reference_declared
    assert audit.by_group.loc["a", "impact_ratio"] == pytest.approx(rates["a"] / rates["b"])
    assert audit.by_group.loc["c", "selection_rate_difference"] == pytest.approx(rates["c"] - rates["b"])
    assert audit.by_group.loc["c", "selection_rate_ratio"] == pytest.approx(rates["c"] / rates["b"])
    assert audit.disparities["demographic_parity_difference"].value == pytest.approx(
        demographic_parity_difference(labels, decisions, sensitive_features=groups)
    )
    default = run(labels, decisions, scores, groups)
    assert default.reference == "a" and not default.reference_declared  # the largest group: 0.5 of the rows
    assert default.impact_reference == rates.idxmax()  # NYC LL 144: the most selected category


def test_an_excluded_declared_reference_compares_nothing() -> None:
    labels, decisions, scores, groups = synthetic(900)
    audit = run(labels, decisions, scores, groups, reference="c", min_size=100)  # c has 77 rows
    assert audit.reference == "c" and "c" in audit.excluded
    assert audit.by_group[["selection_rate_difference", "impact_ratio"]].isna().all().all()


def test_the_share_of_resamples_with_an_undefined_figure_is_kept() -> None:
    """Group c has 3 favourable labels in 40 rows: a resample draws none of them with probability
    (1 − 3/n)^n ≈ e^-3 ≈ 5%, and c's TPR is then undefined."""
    n = 1000
    groups = pd.Series(["a"] * 960 + ["c"] * 40)
    labels = np.r_[np.tile([0, 1], 480), np.ones(3, dtype=int), np.zeros(37, dtype=int)]
    decisions = labels.copy()
    audit = run(labels, decisions, decisions.astype(float), groups, n_boot=4000)
    expected = (1 - 3 / n) ** n
    assert audit.undefined.loc["c", "tpr"] == pytest.approx(expected, abs=4 * np.sqrt(expected / 4000))
    assert audit.undefined.loc["c", "tpr_difference"] == audit.undefined.loc["c", "tpr"]
    assert audit.undefined.loc["a", "tpr"] == 0.0
    assert audit.disparity_undefined["equal_opportunity_difference"] == pytest.approx(audit.undefined.loc["c", "tpr"])


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
    from fmaudit.families.fairness import params as fairness
    from fmaudit.families.fairness.attribute import GROUP_FIGURES

    assert tuple(fairness.GROUP_FIGURES) == GROUP_FIGURES


def test_score_metric_intervals_do_not_hold_every_resample_at_once(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Score-cell counts come in chunks; the audit must use them chunk by chunk, and get the same intervals."""
    from fmaudit.core import intervals

    labels, decisions, scores, groups = synthetic(600)
    whole = run(labels, decisions, scores, groups, rng=np.random.default_rng(9))
    cells = gm.score_cells(pd.Categorical(groups).codes, labels, scores, n_groups=3)
    monkeypatch.setattr(intervals, "WEIGHTS_PER_CHUNK", len(cells.count) * 7)  # 200 resamples in chunks of 7
    seen: list[int] = []
    original = gm.score_metrics

    def spy(cells, counts=None, normal=None):  # type: ignore[no-untyped-def]
        if counts is not None:
            seen.append(len(counts))
        return original(cells, counts, normal)

    monkeypatch.setattr(gm, "score_metrics", spy)
    chunked = run(labels, decisions, scores, groups, rng=np.random.default_rng(9))
    assert max(seen) == 7 and sum(seen) == 200
    pd.testing.assert_frame_equal(chunked.ci_low, whole.ci_low)
    pd.testing.assert_frame_equal(chunked.ci_high, whole.ci_high)


def test_a_group_rate_at_0_or_1_gets_the_exact_interval_not_a_point() -> None:
    """Group c (30 rows) is selected every time: each resample repeats 1.0, so the bootstrap alone says [1, 1]."""
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(5)
    groups = pd.Series(["a"] * 120 + ["b"] * 90 + ["c"] * 30)
    labels = rng.integers(0, 2, 240)
    decisions = np.where(groups == "c", 1, rng.integers(0, 2, 240))
    audit = run(labels, decisions, rng.uniform(size=240), groups, n_boot=400)
    low, high = audit.ci_low.loc["c", "selection_rate"], audit.ci_high.loc["c", "selection_rate"]
    assert audit.by_group.loc["c", "selection_rate"] == 1.0
    assert (low, high) == pytest.approx(proportion_confint(30, 30, alpha=0.05, method="beta"))
    assert low < 0.9  # 30 of 30 is compatible with a rate near 0.88
    tp = int(((groups == "c") & (labels == 1)).sum())
    assert (audit.ci_low.loc["c", "tpr"], audit.ci_high.loc["c", "tpr"]) == pytest.approx(
        proportion_confint(tp, tp, alpha=0.05, method="beta")
    )
    inside = audit.by_group.loc["a", "selection_rate"]
    assert (
        0 < inside < 1 and audit.ci_low.loc["a", "selection_rate"] < inside < audit.ci_high.loc["a", "selection_rate"]
    )
