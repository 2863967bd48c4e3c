"""Rates over edited copies of rows, per sensitive group, with bootstrap intervals that resample rows.

One row yields several edited copies (pairs), which are not independent: the bootstrap resamples the
sampled rows and keeps each drawn row's pairs together (a cluster bootstrap), so a rate is the ratio of
two row sums, recomputed under every resample's row weights (fmaudit.core.intervals.row_weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmaudit.core.findings import Estimate, finite
from fmaudit.core.intervals import at_boundary, exact_bounds, percentile_interval, row_weights

OVERALL = ("", "")
"""The column key of a rate over all rows."""


@dataclass(frozen=True)
class Slices:
    """Which sampled rows belong to each (attribute, group), the whole sample first under ``OVERALL``."""

    keys: tuple[tuple[str, str], ...]
    masks: np.ndarray
    """Rows x slices, 0/1."""

    @classmethod
    def of(cls, groups: pd.DataFrame, attributes: dict[str, list[str]]) -> Slices:
        """Every planned group of every attribute (empty ones included: they get no rate, never a silent 0)."""
        keys = [OVERALL]
        columns = [np.ones(len(groups))]
        for attribute, names in attributes.items():
            values = groups[attribute].astype(str).to_numpy() if attribute in groups else np.array([""] * len(groups))
            for name in names:
                keys.append((attribute, name))
                columns.append((values == name).astype(np.float64))
        return cls(tuple(keys), np.stack(columns, axis=1))

    def rows(self, key: tuple[str, str]) -> int:
        return int(self.masks[:, self.keys.index(key)].sum())


def resampled_ratios(
    numerator: np.ndarray, denominator: np.ndarray, *, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Ratios of column sums under ``n_boot`` row resamples: ``(n_boot, columns)``, NaN where undefined."""
    chunks = []
    for weights in row_weights(len(numerator), n_boot=n_boot, rng=rng):
        top, bottom = weights @ numerator, weights @ denominator
        with np.errstate(invalid="ignore", divide="ignore"):
            chunks.append(np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.nan))
    return np.concatenate(chunks) if chunks else np.zeros((0, numerator.shape[1]))


def sliced_rates(
    events: np.ndarray,
    trials: np.ndarray,
    slices: Slices,
    *,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
) -> dict[tuple[str, str], Estimate]:
    """Per slice: sum of ``events`` over sum of ``trials`` (both per row), with a percentile interval.

    Where a slice's rate is 0 or 1 every resample repeats it; its interval is then Clopper–Pearson with the
    slice's tested rows as the trials: a row's edits are not independent, and counting each row once is the
    conservative size (0 violations in 50 rows: up to 7.1% at 95%)."""
    numerator = slices.masks * events[:, None]
    denominator = slices.masks * trials[:, None]
    points = numerator.sum(axis=0), denominator.sum(axis=0)
    resampled = resampled_ratios(numerator, denominator, n_boot=n_boot, rng=rng) if n_boot else None
    tested = (denominator > 0).sum(axis=0)
    edge = at_boundary(points[0], points[1])
    exact_low, exact_high = exact_bounds(np.where(points[0] > 0, tested, 0), tested, level=confidence)
    estimates = {}
    for column, key in enumerate(slices.keys):
        value = points[0][column] / points[1][column] if points[1][column] > 0 else None
        interval = percentile_interval(resampled[:, column], level=confidence) if resampled is not None else None
        if value is None or interval is None:
            estimates[key] = Estimate(finite(value))
        elif edge[column]:
            estimates[key] = Estimate(finite(value), float(exact_low[column]), float(exact_high[column]))
        else:
            estimates[key] = Estimate(finite(value), interval.low, interval.high)
    return estimates
