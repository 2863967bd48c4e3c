"""Significance of selection-rate gaps: each group against the pre-declared reference, Holm over exactly
that family; p-values checked against statsmodels and a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import fisher_exact, norm
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from fmaudit.families.fairness.significance import Comparison, adjust_family, against_reference, compare

# The reference 'a' is the largest group; 'c' is the most selected, and must not become the reference.
SIZES = {"a": 500, "b": 300, "c": 200, "d": 8}
SELECTED = {"a": 250, "b": 120, "c": 130, "d": 2}


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> float:
    """The pooled two-proportion z-test, by hand."""
    pooled = (k1 + k2) / (n1 + n2)
    z = (k1 / n1 - k2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * norm.sf(abs(z)))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment (Holm 1979), by hand."""
    order = np.argsort(p_values)
    m = len(p_values)
    adjusted, running = np.empty(m), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


def compare_with_reference(compared: list[str], reference: str) -> list[Comparison]:
    pairs = against_reference(attribute="sex", selected=SELECTED, sizes=SIZES, compared=compared, reference=reference)
    return [compare(pair) for pair in pairs]


def test_every_group_is_tested_against_the_declared_reference_with_known_p_values() -> None:
    comparisons = compare_with_reference(["a", "b", "c", "d"], "a")
    assert [(c.group, c.reference) for c in comparisons] == [("b", "a"), ("c", "a"), ("d", "a")]
    by_group = {c.group: c for c in comparisons}
    for group in ("b", "c"):
        expected = two_proportion_z(SELECTED[group], SIZES[group], SELECTED["a"], SIZES["a"])
        _, oracle = proportions_ztest([SELECTED[group], SELECTED["a"]], [SIZES[group], SIZES["a"]])
        assert by_group[group].test == "two-proportion z"
        assert by_group[group].p_value == pytest.approx(expected, rel=1e-9)
        assert by_group[group].p_value == pytest.approx(oracle, rel=1e-12)
    # b: 0.40 vs 0.50, z = -2.746; c: 0.65 vs 0.50, z = 3.599.
    assert by_group["b"].p_value == pytest.approx(0.006026, abs=1e-6)
    assert by_group["c"].p_value == pytest.approx(0.0003195, abs=1e-7)
    # d expects 8 x 252 / 508 = 3.97 < 5 selected rows under equal rates: Fisher's exact test.
    table = [[2, 6], [250, 250]]
    assert by_group["d"].test == "Fisher exact"
    assert by_group["d"].p_value == pytest.approx(fisher_exact(table).pvalue, rel=1e-12)
    assert by_group["d"].p_value == pytest.approx(0.2853, abs=1e-4)


def test_holm_adjusts_over_exactly_the_named_family() -> None:
    comparisons = compare_with_reference(["a", "b", "c", "d"], "a")
    raw = [c.p_value for c in comparisons]
    adjusted = adjust_family(comparisons, method="holm")
    assert [c.p_adjusted for c in adjusted] == pytest.approx(multipletests(raw, method="holm")[1], rel=1e-12)
    assert [c.p_adjusted for c in adjusted] == pytest.approx(holm(raw), rel=1e-12)
    # Holm on 3 tests: smallest p times 3, next times 2 (kept monotone), largest times 1.
    by_group = {c.group: c.p_adjusted for c in adjusted}
    assert by_group["c"] == pytest.approx(3 * comparisons[1].p_value)
    assert by_group["b"] == pytest.approx(max(2 * comparisons[0].p_value, by_group["c"]))
    bonferroni = adjust_family(comparisons, method="bonferroni")
    assert [c.p_adjusted for c in bonferroni] == pytest.approx([min(1.0, 3 * p) for p in raw])


def test_no_comparison_without_a_second_compared_group() -> None:
    assert compare_with_reference(["a"], "a") == []
    assert adjust_family([], method="holm") == []
