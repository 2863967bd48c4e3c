"""Tests of selection-rate differences between each compared group and the reference group, with
multiple-comparison correction over the family the report names.

statsmodels' two-proportion z-test where every expected cell count is at least 5,
scipy's Fisher exact test otherwise (small samples); Holm's step-down correction
(Holm 1979) or Bonferroni across all comparisons an audit makes. The family is
declared before looking at the data: every compared group against the same
reference group (declared, or the largest), never against the observed most-selected one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class VersusReference:
    """One compared group's selections and rows beside the reference group's: what a test against it reads."""

    attribute: str
    group: str
    reference: str
    selected: int
    n: int
    reference_selected: int
    reference_n: int

    @property
    def rate(self) -> float:
        return self.selected / self.n

    @property
    def reference_rate(self) -> float:
        return self.reference_selected / self.reference_n


@dataclass(frozen=True)
class Comparison(VersusReference):
    """One group's selection rate tested against the reference group's."""

    test: str
    p_value: float
    p_adjusted: float = float("nan")
    """Family-wise adjusted p-value, set by ``adjust_family``."""


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


def against_reference(
    *, attribute: str, selected: Mapping[str, int], sizes: Mapping[str, int], compared: Sequence[str], reference: str
) -> list[VersusReference]:
    """Every compared group other than the reference, beside the reference."""
    return [
        VersusReference(
            attribute=attribute,
            group=group,
            reference=reference,
            selected=selected[group],
            n=sizes[group],
            reference_selected=selected[reference],
            reference_n=sizes[reference],
        )
        for group in compared
        if group != reference
    ]


def compare(pair: VersusReference) -> Comparison:
    """One group's selection rate tested against the reference's (unadjusted p-value)."""
    test, p_value = selection_rate_test(pair.selected, pair.n, pair.reference_selected, pair.reference_n)
    return Comparison(**dataclasses.asdict(pair), test=test, p_value=p_value)


def adjust_family(comparisons: Sequence[Comparison], *, method: Literal["holm", "bonferroni"]) -> list[Comparison]:
    """The comparisons with family-wise adjusted p-values, the family being exactly these comparisons."""
    adjusted = adjust([c.p_value for c in comparisons], method=method)
    return [dataclasses.replace(c, p_adjusted=p) for c, p in zip(comparisons, adjusted, strict=True)]


def adjust(p_values: list[float], *, method: Literal["holm", "bonferroni"]) -> list[float]:
    """Family-wise adjusted p-values, in the input order."""
    from statsmodels.stats.multitest import multipletests

    if not p_values:
        return []
    return [float(p) for p in multipletests(p_values, method=method)[1]]
