"""Sensitive groups: each attribute's group per row, their intersections, and the check that group names
stay distinct in metric paths."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from fmaudit.core.errors import DataError
from fmaudit.core.findings import metric_key
from fmaudit.spec import SensitiveSpec

UNKNOWN_GROUP = "unknown"
"""Group name for rows whose sensitive value is missing: counted, never dropped."""
INTERSECTION_JOIN = " & "
"""Joins the component groups of an intersection group, e.g. ``female & under 25``."""


def derive_group(series: pd.Series, spec: SensitiveSpec, *, name: str) -> pd.Series:
    """Map a raw column to group names; missing values become the 'unknown' group."""
    missing = series.isna()
    if missing.all():
        raise DataError(f"data.sensitive.{name}.column: column {spec.column!r} has no values at all")
    if spec.map is not None:
        as_text = series.astype("string")
        unmapped = sorted(set(as_text[~missing].unique()) - set(spec.map))
        if unmapped:
            raise DataError(
                f"data.sensitive.{name}.map: values of column {spec.column!r} have no group: {unmapped[:10]}"
            )
        groups = as_text.map(spec.map)
    elif spec.bins is not None:
        assert spec.labels is not None  # guaranteed by SensitiveSpec's validator
        numeric = pd.to_numeric(series, errors="coerce")
        bad = numeric.isna() & ~missing
        if bad.any():
            raise DataError(
                f"data.sensitive.{name}.bins: column {spec.column!r} has non-numeric values, "
                f"e.g. {series[bad].iloc[0]!r}"
            )
        groups = pd.cut(numeric, bins=spec.bins, labels=spec.labels, right=False).astype("string")
        outside = groups.isna() & ~missing
        if outside.any():
            raise DataError(
                f"data.sensitive.{name}.bins: {int(outside.sum())} values of {spec.column!r} fall outside "
                f"[{spec.bins[0]}, {spec.bins[-1]}), e.g. {series[outside].iloc[0]!r}"
            )
    else:
        groups = series.astype("string")
    return groups.fillna(UNKNOWN_GROUP).astype(str).rename(name)


def intersection_name(attributes: list[str]) -> str:
    """The metric-path name of an intersection, e.g. ``sex_x_age_group``."""
    return "_x_".join(attributes)


def intersection_groups(sensitive: pd.DataFrame, attributes: list[str]) -> pd.Series:
    """Each row's intersection group, its components' groups joined (``female & under 25``). Built from each
    component's group codes, so a million rows cost a few array operations and one join per combination seen."""
    factors = [pd.factorize(sensitive[attribute]) for attribute in attributes]
    shape = tuple(len(groups) for _, groups in factors)
    combined = np.ravel_multi_index(tuple(codes for codes, _ in factors), shape)
    rows, seen = pd.factorize(combined)
    names = [
        INTERSECTION_JOIN.join(str(groups[i]) for (_, groups), i in zip(factors, where, strict=True))
        for where in zip(*np.unravel_index(seen, shape), strict=True)
    ]
    return pd.Series(pd.array(names, dtype=str).take(rows), index=sensitive.index)


def check_group_paths(sensitive: pd.DataFrame, declared: Collection[str], path: Path) -> None:
    """Two groups of one attribute must not share a metric path part (``metric_key`` maps "A/B", "A B" and
    "A&B" all to ``A_B``): one group's figures would overwrite or shadow the other's. Name every collision."""
    problems = []
    for attribute in sensitive.columns:
        by_key: dict[str, list[str]] = {}
        for group in sorted(sensitive[attribute].unique()):
            by_key.setdefault(metric_key(group), []).append(group)
        where = f"data.sensitive.{attribute}" if attribute in declared else f"data.intersections ({attribute})"
        fix = f"data.sensitive.{attribute}.map" if attribute in declared else "the components' map"
        problems += [
            f"{where}: groups {' and '.join(map(repr, names))} in {path.name} would share the metric path part "
            f"{key!r}; rename one with {fix}"
            for key, names in by_key.items()
            if len(names) > 1
        ]
    if problems:
        raise DataError("\n".join(problems))
