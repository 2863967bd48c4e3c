"""One sensitive attribute's audit: fairlearn's per-group figures, the disparities between the groups
that are large enough to compare, signed gaps of each group to a reference group, and bootstrap
intervals around all of them.

A group's gaps are bootstrapped against a reference fixed before resampling (declared, or by default the
largest compared group), so their intervals can cross 0 (or 1 for a ratio). A summary disparity picks its
extreme pair on the full sample, and so does the impact ratio's denominator (the most selected group) when
no reference is declared: their intervals are simultaneous over every pair of compared groups
(``simultaneous``), so they cover the true extreme whichever pair it is, and reach parity where there is none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmaudit.core.findings import Estimate, finite
from fmaudit.core.intervals import percentile_bounds, proportion_bounds, resample_cell_counts
from fmaudit.data import UNKNOWN_GROUP
from fmaudit.families.fairness import group_metrics as gm
from fmaudit.families.fairness.significance import VersusReference, against_reference
from fmaudit.metrics import confusion, parity, simultaneous
from fmaudit.metrics.parity import Pair, excluded_groups

GROUP_FIGURES = (
    "count",
    "base_rate",
    "selection_rate",
    "impact_ratio",
    "accuracy",
    "tpr",
    "fpr",
    "fnr",
    "precision",
    "ece",
    "mean_score",
)
"""Columns of the per-group table."""
REFERENCE_RATES = ("selection_rate", "tpr", "fpr")
REFERENCE_FIGURES = tuple(f"{rate}_{kind}" for rate in REFERENCE_RATES for kind in ("difference", "ratio"))
"""Signed figures of each compared group against the reference group: ``rate(g) − rate(ref)`` and
``rate(g) / rate(ref)``, columns of the per-group table beside GROUP_FIGURES."""


@dataclass(frozen=True)
class AttributeAudit:
    """Every figure for one attribute: per-group table, disparities, intervals, exclusions."""

    attribute: str
    by_group: pd.DataFrame
    """Rows = every group (observed or not), columns = GROUP_FIGURES + REFERENCE_FIGURES; NaN where undefined."""
    ci_low: pd.DataFrame
    ci_high: pd.DataFrame
    undefined: pd.DataFrame
    """Share of resamples in which each group figure was undefined (e.g. a group drawn without positives)."""
    disparities: dict[str, Estimate]
    """fairlearn's between-groups disparities, with intervals simultaneous over every pair of compared groups."""
    pairs: dict[str, Pair | None]
    """Per disparity, the rate and the two groups (rows of ``by_group``) whose gap the estimate is."""
    disparity_undefined: dict[str, float]
    """Per disparity, the share of resamples in which the gap of some pair was undefined."""
    excluded: dict[str, str]
    reference: str | None
    """The group every compared group is measured and tested against: declared, or the largest compared group."""
    reference_declared: bool
    impact_reference: str | None
    """The impact ratio's denominator: the declared reference, or the most selected compared group (whose
    pick on the full sample the impact ratios' intervals allow for)."""

    def versus_reference(self) -> list[VersusReference]:
        """Every compared group's selections and rows beside the reference's: what its tests against the
        reference read; none without a compared reference."""
        if self.reference is None or self.reference in self.excluded:
            return []
        table = self.by_group
        compared = [str(g) for g in table.index if g not in self.excluded]
        sizes = {g: int(table.loc[g, "count"]) for g in compared}
        selected = {g: round(float(table.loc[g, "selection_rate"]) * sizes[g]) for g in compared}
        return against_reference(
            attribute=self.attribute, selected=selected, sizes=sizes, compared=compared, reference=self.reference
        )


def audit_attribute(
    *,
    labels: np.ndarray,
    decisions: np.ndarray,
    scores: np.ndarray,
    groups: pd.Series,
    all_groups: list[str],
    min_size: int,
    reference: str | None,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
    attribute: str = "",
) -> AttributeAudit:
    """fairlearn's point estimates per group and between groups, signed gaps to a reference group chosen
    once on the full sample, and vectorised bootstrap intervals around all of them."""
    names, codes = _group_codes(groups, all_groups)
    counts = confusion.confusion_counts(codes, labels, decisions, n_groups=len(names))
    sizes = counts.sum(axis=1)
    excluded = excluded_groups(names, sizes, min_size=min_size, unknown=UNKNOWN_GROUP)
    eligible = np.array([name not in excluded for name in names])

    cells = gm.score_cells(codes, labels, scores, n_groups=len(names))
    by_group = _by_group(counts, cells, names)
    selection = by_group["selection_rate"].to_numpy()
    reference_index = _choose(names, eligible, declared=reference, largest_of=sizes)
    impact_index = _choose(names, eligible, declared=reference, largest_of=np.nan_to_num(selection, nan=-1.0))
    point = {rate: by_group[rate].to_numpy() for rate in ("selection_rate", "tpr", "fpr", "precision")}
    for figure, values in _versus(point, eligible, reference_index, impact_index).items():
        by_group[figure] = values
    found = {name: parity.extreme_pair(point, name, eligible=eligible) for name in parity.DISPARITIES}
    disparities = {name: Estimate(finite(value)) for name, (value, _) in found.items()}
    pairs = {name: pair for name, (_, pair) in found.items()}

    figures = [f for f in (*GROUP_FIGURES, *REFERENCE_FIGURES) if f != "count"]
    low = pd.DataFrame(np.nan, index=names, columns=[*GROUP_FIGURES, *REFERENCE_FIGURES])
    high, undefined = low.copy(), low.copy()
    disparity_undefined = {name: float("nan") for name in parity.DISPARITIES}
    if n_boot > 0 and sizes.sum() > 0:
        drawn = resample_cell_counts(counts, n_boot=n_boot, rng=rng)
        resampled = confusion.rates(drawn)
        resampled.update(_versus(resampled, eligible, reference_index, impact_index))
        resampled.update(gm.resampled_score_metrics(cells, n_boot=n_boot, rng=rng))
        for figure in figures:
            bounds = percentile_bounds(resampled[figure], level=confidence)
            if figure in confusion.RATE_CELLS:  # a rate at 0 or 1 repeats in every resample: exact there
                bounds = proportion_bounds(bounds, *confusion.rate_parts(counts, figure), level=confidence)
            low[figure], high[figure], undefined[figure] = bounds.low, bounds.high, bounds.undefined_share
        # A reference against itself is 0 (difference) or 1 (ratio) by definition: no interval.
        if reference_index is not None:
            low.loc[names[reference_index], list(REFERENCE_FIGURES)] = np.nan
            high.loc[names[reference_index], list(REFERENCE_FIGURES)] = np.nan
        families = {
            name: simultaneous.pair_bounds(counts, drawn, name, eligible=eligible, level=confidence)
            for name in parity.DISPARITIES
        }
        for name, family in families.items():
            bounds = simultaneous.summary_bounds(family, name)
            disparities[name] = Estimate(disparities[name].value, finite(bounds.low), finite(bounds.high))
            disparity_undefined[name] = float(bounds.undefined_share)
        if reference is not None:  # a declared denominator: a fixed ratio, its percentile interval; 1 for itself
            if impact_index is not None:
                low.loc[names[impact_index], "impact_ratio"] = high.loc[names[impact_index], "impact_ratio"] = np.nan
        else:  # the most selected group, picked on the full sample: bounds that allow for the pick
            family = families["demographic_parity_ratio"]
            low["impact_ratio"], high["impact_ratio"] = simultaneous.impact_ratio_bounds(family, len(names))
            undefined["impact_ratio"] = np.where(eligible, family.undefined_share, np.nan)
    return AttributeAudit(
        attribute=attribute,
        by_group=by_group,
        ci_low=low,
        ci_high=high,
        undefined=undefined,
        disparities=disparities,
        pairs=pairs,
        disparity_undefined=disparity_undefined,
        excluded=excluded,
        reference=names[reference_index] if reference_index is not None else reference,
        reference_declared=reference is not None,
        impact_reference=names[impact_index] if impact_index is not None else reference,
    )


def _group_codes(groups: pd.Series, all_groups: list[str]) -> tuple[list[str], np.ndarray]:
    """The groups as text (the declared ones first, then every other observed one, sorted) and each row's
    index among them; one hashing pass over the rows, none for categorical input (millions of rows)."""
    values = pd.Categorical(groups)
    categories = [str(c) for c in values.categories]
    observed = np.bincount(values.codes, minlength=len(categories)) > 0
    names = list(dict.fromkeys([*all_groups, *sorted({c for c, o in zip(categories, observed, strict=True) if o})]))
    return names, np.array([names.index(c) if c in names else -1 for c in categories], dtype=np.int64)[values.codes]


def _choose(names: list[str], eligible: np.ndarray, *, declared: str | None, largest_of: np.ndarray) -> int | None:
    """The declared group if it is compared, else the compared group with the largest value (first on ties).

    None where the declared group is excluded or no group is compared: nothing to measure against.
    """
    if declared is not None:
        index = names.index(declared)
        return index if eligible[index] else None
    if not eligible.any():
        return None
    return int(np.where(eligible, largest_of, -np.inf).argmax())


def _versus(
    rates: dict[str, np.ndarray], eligible: np.ndarray, reference: int | None, impact: int | None
) -> dict[str, np.ndarray]:
    """Signed gaps of every compared group to the reference, and impact ratios; NaN for excluded groups."""
    shape = rates["selection_rate"].shape
    figures = {figure: np.full(shape, np.nan) for figure in ("impact_ratio", *REFERENCE_FIGURES)}
    if reference is not None:
        for rate in REFERENCE_RATES:
            difference, ratio = gm.versus_reference(rates[rate], reference)
            figures[f"{rate}_difference"] = np.where(eligible, difference, np.nan)
            figures[f"{rate}_ratio"] = np.where(eligible, ratio, np.nan)
    if impact is not None:
        figures["impact_ratio"] = np.where(eligible, gm.versus_reference(rates["selection_rate"], impact)[1], np.nan)
    return figures


def _by_group(counts: np.ndarray, cells: gm.ScoreCells, names: list[str]) -> pd.DataFrame:
    """Per-group figures on the full sample, from the rows' confusion counts and score sums: fairlearn's
    MetricFrame values (tests check them to 1e-12) without its per-group Python calls; NaN where undefined."""
    rates = confusion.rates(counts)
    table = pd.DataFrame({name: rates[name] for name in gm.RATE_METRICS}, index=names)
    for name, values in gm.score_metrics(cells).items():
        table[name] = values[0]
    return table
