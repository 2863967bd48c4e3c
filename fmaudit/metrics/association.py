"""How strongly each field is associated with each sensitive attribute: bias-corrected Cramér's V, the figure
behind a proxy flag (a field that predicts a protected attribute can stand in for it; Yeom, Datta &
Fredrikson 2018, "Hunting for Discriminatory Proxies in Linear Regression Models").

Cramér's V is sqrt(chi² / (n · (min(rows, columns) - 1))) of the field x attribute contingency table: 0 for
independence, 1 when either determines the other. The plain form is biased upward in small samples (for
independent variables chi² is about (r - 1)(c - 1): a ten-category field and a two-group attribute on 300 rows
show V = 0.17 by chance), so the default is Bergsma's correction (2013, "A bias-correction for Cramér's V
and Tschuprow's T"), which brings that to about 0; ``corrected=False`` gives the plain form, as
``scipy.stats.contingency.association`` does. A numeric field with more than ``QUANTILE_BINS`` distinct values
is cut into that many quantile bins first (ties kept in one bin), so one threshold means the same for every
field (a correlation ratio would put numeric fields on a scale of their own). A missing value is a category.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

QUANTILE_BINS = 5
"""Quantile bins of a numeric field with more distinct values than this; fewer are categories as they are."""


@dataclass(frozen=True)
class Association:
    """One field's association with one sensitive attribute."""

    field: str
    attribute: str
    value: float
    """Cramér's V in [0, 1] (bias-corrected unless asked otherwise); 0 when either has a single value."""
    binned: bool
    """Whether the field is numeric and was cut into quantile bins."""


def associations(
    fields: pd.DataFrame, attributes: pd.DataFrame, *, corrected: bool = True, bins: int = QUANTILE_BINS
) -> tuple[Association, ...]:
    """Cramér's V of every column of ``fields`` with every column of ``attributes`` (the same rows), field by
    field; ``corrected`` applies Bergsma's bias correction."""
    if not fields.index.equals(attributes.index):
        raise ValueError("fields and attributes must hold the same rows (their indexes differ)")
    found = []
    for name in fields.columns:
        codes, binned = _codes(fields[name], bins)
        for attribute in attributes.columns:
            groups, _ = pd.factorize(attributes[attribute], use_na_sentinel=False)
            found.append(Association(str(name), str(attribute), _cramers_v(codes, groups, corrected), binned))
    return tuple(found)


def _codes(column: pd.Series, bins: int) -> tuple[np.ndarray, bool]:
    """The column's category codes (quantile bins for a numeric column with many values), and whether binned."""
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    binned = bool(numeric and column.nunique() > bins)
    values = pd.qcut(column, bins, duplicates="drop") if binned else column
    codes, _ = pd.factorize(values, use_na_sentinel=False)
    return codes, binned


def _cramers_v(first: np.ndarray, second: np.ndarray, corrected: bool) -> float:
    if len(first) == 0:
        return 0.0
    table = np.zeros((first.max() + 1, second.max() + 1))
    np.add.at(table, (first, second), 1)
    n = table.sum()
    r, c = table.shape
    if min(r, c) < 2:
        return 0.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    phi2 = float(((table - expected) ** 2 / expected).sum() / n)
    if not corrected:
        return float(np.sqrt(phi2 / (min(r, c) - 1)))
    phi2 = max(0.0, phi2 - (r - 1) * (c - 1) / (n - 1))
    r_corrected, c_corrected = r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)
    scale = min(r_corrected, c_corrected) - 1
    return float(np.sqrt(min(phi2 / scale, 1.0))) if scale > 0 else 0.0
