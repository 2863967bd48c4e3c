"""Equivalence tests of selection parity: the p-values are statsmodels' two one-sided score tests and agree with
the (1 − 2·alpha) score interval lying inside the margin; simulated, parity is established under no effect and
never under a real gap, the size at the margin is alpha, more groups make the attribute's claim harder where a
count of significant gaps gets easier; the figures are gateable and an undefined one fails its gate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom
from statsmodels.stats.proportion import confint_proportions_2indep, tost_proportions_2indep

from fmaudit.core.findings import Metric
from fmaudit.families.fairness.equivalence import (
    Equivalence,
    all_established,
    equivalence_p_values,
    equivalence_tests,
)
from fmaudit.families.fairness.significance import selection_rate_test
from fmaudit.metrics.gates import check_gate_paths, evaluate, parse_gate
from tests.support.fairness import run

ALPHA, MARGIN = 0.05, 0.8
DRAWS = 20_000


def established(selected, n, reference_selected, reference_n):  # type: ignore[no-untyped-def]
    return equivalence_p_values(selected, n, reference_selected, reference_n, margin=MARGIN) < ALPHA


@pytest.mark.parametrize(
    ("selected", "n", "reference_selected", "reference_n"),
    [(140, 200, 420, 600), (95, 200, 420, 600), (30, 40, 300, 400), (52, 60, 250, 300), (200, 400, 180, 300)],
)
def test_the_p_value_is_statsmodels_tost_and_matches_the_score_interval(
    selected: int, n: int, reference_selected: int, reference_n: int
) -> None:
    """The larger of the two one-sided score p-values; below alpha exactly when the (1 − 2·alpha) score interval
    of the ratio lies inside [m, 1/m] (the duality the report's note states)."""
    ours = float(equivalence_p_values(selected, n, reference_selected, reference_n, margin=MARGIN))
    tost = tost_proportions_2indep(
        selected, n, reference_selected, reference_n, MARGIN, 1 / MARGIN, method="score", compare="ratio"
    )
    one_sided = (tost.results_larger.pvalue, tost.results_smaller.pvalue)
    assert ours == pytest.approx(max(one_sided), rel=1e-12)
    low, high = confint_proportions_2indep(
        selected, n, reference_selected, reference_n, method="score", compare="ratio", alpha=2 * ALPHA
    )
    assert (ours < ALPHA) == (low > MARGIN and high < 1 / MARGIN)


def test_no_selections_cannot_establish_parity_and_none_in_the_reference_is_undefined() -> None:
    p_values = equivalence_p_values(np.array([0, 30, 0]), 40, np.array([300, 0, 0]), 400, margin=MARGIN)
    assert p_values[0] == 1.0 and np.isnan(p_values[1:]).all()
    tests = [Equivalence("a", g, "r", 1, 2, 1, 2, p, e) for g, p, e in [("x", 0.01, True), ("y", float("nan"), None)]]
    assert all_established(tests) is None  # one ratio undefined: the claim about every group is undecided
    assert all_established([*tests, Equivalence("a", "z", "r", 0, 2, 1, 2, 1.0, False)]) is False
    assert all_established(tests[:1]) is True and all_established([]) is None


def test_under_no_effect_parity_is_established_and_under_a_real_gap_never() -> None:
    rng = np.random.default_rng(0)
    reference = rng.binomial(2000, 0.5, DRAWS)
    assert established(rng.binomial(2000, 0.5, DRAWS), 2000, reference, 2000).mean() > 0.99
    assert established(rng.binomial(2000, 0.3, DRAWS), 2000, reference, 2000).mean() == 0.0  # ratio 0.6


@pytest.mark.parametrize("ratio", [MARGIN, 1 / MARGIN], ids=["lower-margin", "upper-margin"])
def test_at_the_margin_parity_is_established_in_alpha_of_the_samples(ratio: float) -> None:
    """The size of the test: a true ratio exactly at the margin is called equivalent in at most alpha of the
    samples (plus three Monte-Carlo standard errors). A test at the (1 − alpha) interval would pass 10%."""
    rng = np.random.default_rng(1)
    rate = established(rng.binomial(2000, 0.5 * ratio, DRAWS), 2000, rng.binomial(2000, 0.5, DRAWS), 2000).mean()
    error = 3 * np.sqrt(ALPHA * (1 - ALPHA) / DRAWS)
    assert ALPHA - 4 * error < rate <= ALPHA + error


def size(n: int, reference_n: int, reference_rate: float, *, method: str) -> float:
    """The exact chance of establishing parity at the lower margin, over every outcome of both groups."""
    x, xr = np.meshgrid(np.arange(n + 1), np.arange(reference_n + 1), indexing="ij")
    if method == "score":
        p_values = equivalence_p_values(x, n, xr, reference_n, margin=MARGIN)
    else:
        with np.errstate(all="ignore"):
            tost = tost_proportions_2indep(x, n, xr, reference_n, MARGIN, 1 / MARGIN, method=method, compare="ratio")
        p_values = np.asarray(tost.pvalue)
    weights = binom.pmf(x, n, MARGIN * reference_rate) * binom.pmf(xr, reference_n, reference_rate)
    return float((weights * (np.nan_to_num(p_values, nan=1.0) < ALPHA)).sum())


def test_a_small_group_keeps_the_size_where_the_log_test_does_not() -> None:
    """20 rows selected at 0.72 against 1000 at 0.9, computed exactly: the score tests establish parity in about
    alpha of the samples, Katz's log (Wald) tests in 13%; the reason the score tests are the basis."""
    assert size(20, 1000, 0.9, method="score") <= 0.055
    assert size(20, 1000, 0.9, method="log") > 0.12


def pooled_z_p_values(selected: np.ndarray, n: int, reference_selected: np.ndarray, reference_n: int) -> np.ndarray:
    """The significance family's two-proportion z-test, vectorised (checked against it below)."""
    from scipy.stats import norm

    pooled = (selected + reference_selected) / (n + reference_n)
    z = (selected / n - reference_selected / reference_n) / np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / reference_n))
    return 2 * norm.sf(np.abs(z))


def attribute_rates(groups: int, *, first: tuple[int, float], others: int, seed: int) -> tuple[float, float]:
    """Over simulated attributes of ``groups`` groups (a reference of 600 rows selected at 0.7, a first group of
    ``first`` = (rows, rate), the others of ``others`` rows at 0.7), how often ``significant_gaps`` is 0 under
    Holm and how often parity is established for every group."""
    rng = np.random.default_rng(seed)
    reference = rng.binomial(600, 0.7, DRAWS)
    sizes = [first[0]] + [others] * (groups - 2)
    selected = [rng.binomial(first[0], first[1], DRAWS)] + [rng.binomial(others, 0.7, DRAWS) for _ in sizes[1:]]
    p_values = np.array([pooled_z_p_values(x, n, reference, 600) for x, n in zip(selected, sizes, strict=True)])
    for draw in range(3):
        for g, (x, n) in enumerate(zip(selected, sizes, strict=True)):
            assert selection_rate_test(x[draw], n, reference[draw], 600) == (
                "two-proportion z",
                pytest.approx(p_values[g, draw], rel=1e-9),
            )
    # Holm rejects at least one hypothesis exactly when the smallest p-value is below alpha / family size.
    no_significant_gap = (p_values.min(axis=0) >= ALPHA / (groups - 1)).mean()
    every_group = np.all([established(x, n, reference, 600) for x, n in zip(selected, sizes, strict=True)], axis=0)
    return float(no_significant_gap), float(every_group.mean())


def test_more_groups_make_parity_harder_to_establish_and_no_significant_gap_easier() -> None:
    """The issue's inversion: with a real gap in a small group (40 rows at 0.5), declaring more groups makes 'no
    significant gap' pass more often (26% with two groups, 43% with five), while parity is established for
    almost none; with no gap at all, each further group is one more claim to establish, so parity for all of
    them gets rarer (groups of 60 rows: 62% with two groups, 39% with three, 16% with five)."""
    with_gap = {k: attribute_rates(k, first=(40, 0.5), others=300, seed=k) for k in (2, 5)}
    assert with_gap[5][0] > with_gap[2][0] + 0.1
    assert max(rate for _, rate in with_gap.values()) < 0.02
    parity = [attribute_rates(k, first=(60, 0.7), others=60, seed=10 + k)[1] for k in (2, 3, 5)]
    assert parity[0] > 0.5 and parity[0] > parity[1] + 0.1 and parity[1] > parity[2] + 0.1, parity


def test_an_audit_tests_every_compared_group_against_its_reference() -> None:
    groups = pd.Series(["a"] * 600 + ["b"] * 300 + ["c"] * 40 + ["d"] * 5)
    decisions = np.r_[np.tile([1, 1, 0], 200), np.tile([1, 1, 0], 100), np.ones(10), np.zeros(30), np.ones(5)]
    decisions = decisions.astype(int)
    audit = run(decisions, decisions, decisions.astype(float), groups, min_size=20, n_boot=0)
    tests = {t.group: t for t in equivalence_tests(audit, margin=MARGIN, alpha=ALPHA)}
    assert set(tests) == {"b", "c"}  # a is the reference, d (5 rows) is not compared
    b, c = tests["b"], tests["c"]
    assert (b.selected, b.n, b.reference_selected, b.reference_n) == (200, 300, 400, 600)
    assert b.ratio == pytest.approx(1.0) and b.established is True
    assert c.ratio == pytest.approx(0.25 / (2 / 3)) and c.established is False
    assert c.p_value == pytest.approx(float(equivalence_p_values(10, 40, 400, 600, margin=MARGIN)))
    assert all_established(list(tests.values())) is False
    declared = run(decisions, decisions, decisions.astype(float), groups, min_size=20, n_boot=0, reference="d")
    assert equivalence_tests(declared, margin=MARGIN, alpha=ALPHA) == []  # an excluded reference compares nothing


def test_the_figures_are_gateable_and_an_undefined_one_fails() -> None:
    from fmaudit.families.fairness.params import FairnessParams
    from fmaudit.families.fairness.plugin import FairnessPlugin
    from fmaudit.plugins.context import AuditPlan

    plan = AuditPlan(attributes={"sex": ["female", "male"]}, private=False)
    paths = FairnessPlugin().metric_paths(FairnessParams(), plan)
    gates = [
        parse_gate(g)
        for g in ("fairness.sex.parity_established >= 1", "fairness.sex.groups.female.parity_established >= 1")
    ]
    check_gate_paths(gates, paths, where="spec.yaml")  # names the plugin declares: no SpecError
    metrics = {
        "fairness.sex.parity_established": Metric("fairness.sex.parity_established", None, "p", note="undefined"),
        "fairness.sex.groups.female.parity_established": Metric(
            "fairness.sex.groups.female.parity_established", 1.0, "p"
        ),
    }
    results = evaluate(gates, metrics)
    assert [r.passed for r in results] == [False, True]
    assert results[0].reason == "undefined"
    zero = Metric("fairness.sex.parity_established", 0.0, "p")
    assert not evaluate(gates[:1], {zero.path: zero})[0].passed
