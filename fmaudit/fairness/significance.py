"""Tests of selection-rate differences between two groups, with multiple-comparison correction.

statsmodels' two-proportion z-test where every expected cell count is at least 5,
scipy's Fisher exact test otherwise (small samples); Holm's step-down correction
(Holm 1979) or Bonferroni across all comparisons an audit makes.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

MIN_EXPECTED = 5.0


def selection_rate_test(selected_a: int, n_a: int, selected_b: int, n_b: int) -> tuple[str, float]:
    """Two-sided p-value for equal selection rates in two groups, and the name of the test used."""
    from scipy.stats import fisher_exact
    from statsmodels.stats.proportion import proportions_ztest

    table = np.array([[selected_a, n_a - selected_a], [selected_b, n_b - selected_b]], dtype=float)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    if (expected < MIN_EXPECTED).any():
        return "Fisher exact", float(fisher_exact(table.astype(int)).pvalue)
    _, p_value = proportions_ztest([selected_a, selected_b], [n_a, n_b])
    return "two-proportion z", float(p_value)


def adjust(p_values: list[float], *, method: Literal["holm", "bonferroni"]) -> list[float]:
    """Family-wise adjusted p-values, in the input order."""
    from statsmodels.stats.multitest import multipletests

    if not p_values:
        return []
    return [float(p) for p in multipletests(p_values, method=method)[1]]
