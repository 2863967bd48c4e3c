"""Completeness and errors: missing values per column, overall and by group (with a test of whether a column is
missing more often for some groups, Holm-corrected over every column and attribute), values outside declared
ranges, and constant or near-constant columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmaudit.families.data.audited import AuditedData
from fmaudit.families.data.params import DataParams
from fmaudit.families.data.representation import Proportion, proportions
from fmaudit.families.data.stats import holm


@dataclass(frozen=True)
class GroupMissing:
    """How often one column is missing in each group of one attribute, and the test of no difference."""

    column: str
    attribute: str
    by_group: dict[str, Proportion]
    test: str
    p_value: float
    p_adjusted: float
    gap: float
    """The largest group's missing share minus the smallest's."""
    flagged: bool


def missing_shares(audited: AuditedData, *, level: float) -> dict[str, Proportion]:
    """Each column's missing share over every row."""
    counts = audited.frame.isna().sum().to_numpy()
    found = proportions(counts, np.full(len(counts), len(audited.frame)), level=level)
    return dict(zip(map(str, audited.frame.columns), found, strict=True))


def group_missing(audited: AuditedData, attributes: list[str], params: DataParams) -> list[GroupMissing]:
    """For every column with a missing value and every attribute: the missing share per group and a test that it
    is the same in all (Fisher's exact test for two groups, the chi-square test for more), Holm-adjusted over
    the family of all these tests."""
    missing = audited.frame.isna()
    raw = []
    for column in [c for c in missing.columns if missing[c].any()]:
        for attribute in attributes:
            table = pd.crosstab(audited.groups[attribute], missing[column]).reindex(columns=[False, True], fill_value=0)
            if len(table) < 2:
                continue
            present, absent = table[False].to_numpy(), table[True].to_numpy()
            test, p = _independence(np.column_stack([absent, present]))
            rates = proportions(absent, absent + present, level=params.confidence)
            raw.append((str(column), attribute, dict(zip(map(str, table.index), rates, strict=True)), test, p))
    adjusted = holm([p for *_, p in raw])
    found = []
    for (column, attribute, by_group, test, p), p_adj in zip(raw, adjusted, strict=True):
        values = [r.value for r in by_group.values() if r.value is not None]
        gap = max(values) - min(values)
        flagged = p_adj < params.alpha and gap >= params.missing_gap
        found.append(GroupMissing(column, attribute, by_group, test, p, p_adj, gap, flagged))
    return found


def _independence(table: np.ndarray) -> tuple[str, float]:
    """The test of no association in a groups x (missing, present) table, and its p-value."""
    from scipy.stats import chi2_contingency, fisher_exact

    if table.shape[0] == 2:
        return "Fisher exact", float(fisher_exact(table).pvalue)
    return "chi-square", float(chi2_contingency(table, correction=False).pvalue)


@dataclass(frozen=True)
class OutOfRange:
    column: str
    low: float
    high: float
    rows: int
    """Present values below ``low`` or above ``high``."""
    smallest: float | None
    largest: float | None


def out_of_range(audited: AuditedData, ranges: dict[str, tuple[float, float]]) -> list[OutOfRange]:
    """Per declared column, how many present values fall outside its [min, max]."""
    found = []
    for column, (low, high) in ranges.items():
        values = pd.to_numeric(audited.frame[column], errors="coerce").dropna()
        outside = int(((values < low) | (values > high)).sum())
        found.append(
            OutOfRange(
                column,
                low,
                high,
                outside,
                float(values.min()) if len(values) else None,
                float(values.max()) if len(values) else None,
            )
        )
    return found


@dataclass(frozen=True)
class Concentration:
    """A column's most frequent value (a missing value counts as one) and its share of the rows."""

    column: str
    value: str
    share: float
    distinct: int


def concentrated(audited: AuditedData, *, near_constant: float) -> list[Concentration]:
    """Columns whose most frequent value holds at least ``near_constant`` of the rows (constant: every row)."""
    found = []
    for column in audited.frame.columns:
        counts = audited.frame[column].value_counts(dropna=False)
        share = float(counts.iloc[0] / len(audited.frame)) if len(counts) else 1.0
        if share >= near_constant:
            found.append(Concentration(str(column), str(counts.index[0]), share, len(counts)))
    return found
