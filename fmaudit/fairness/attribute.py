"""One sensitive attribute's audit: fairlearn's per-group figures, the disparities between the groups
that are large enough to compare, and bootstrap intervals around all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fmaudit.data import UNKNOWN_GROUP
from fmaudit.fairness import group_metrics as gm
from fmaudit.findings import Estimate, finite
from fmaudit.intervals import group_intervals, percentile_interval, resample_cell_counts, row_weights
from fmaudit.performance.figures import expected_calibration_error

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
MOST_FAVOURED = "most favoured group"


@dataclass(frozen=True)
class AttributeAudit:
    """Every figure for one attribute: per-group table, disparities, intervals, exclusions."""

    attribute: str
    by_group: pd.DataFrame
    """Rows = every group (observed or not), columns = GROUP_FIGURES; NaN where undefined."""
    ci_low: pd.DataFrame
    ci_high: pd.DataFrame
    disparities: dict[str, Estimate]
    excluded: dict[str, str]
    reference: str


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
    """fairlearn's point estimates per group and between groups; vectorised bootstrap intervals around them."""
    groups = groups.astype(str).reset_index(drop=True)
    names = list(dict.fromkeys([*all_groups, *sorted(groups.unique())]))
    codes = pd.Categorical(groups, categories=names).codes
    counts = gm.confusion_counts(codes, labels, decisions, n_groups=len(names))
    sizes = counts.sum(axis=1)
    excluded = _exclusions(names, sizes, min_size)
    eligible = np.array([name not in excluded for name in names])

    by_group = _fairlearn_by_group(labels, decisions, scores, groups, names)
    reference_index = names.index(reference) if reference is not None else None
    by_group["impact_ratio"] = _impact_ratio(by_group["selection_rate"].to_numpy(), eligible, reference_index)
    disparity_points = _point_disparities(by_group, eligible, reference_index)

    low = pd.DataFrame(np.nan, index=names, columns=list(GROUP_FIGURES))
    high = low.copy()
    disparities = {name: Estimate(value) for name, value in disparity_points.items()}
    if n_boot > 0 and sizes.sum() > 0:
        resampled = gm.rates(resample_cell_counts(counts, n_boot=n_boot, rng=rng))
        resampled["impact_ratio"] = _impact_ratio(resampled["selection_rate"], eligible, reference_index)
        # Score metrics chunk by chunk: only the per-group results of all resamples are kept, never all weights.
        chunks = [
            gm.score_metrics(weights, codes, labels, scores, n_groups=len(names))
            for weights in row_weights(len(labels), n_boot=n_boot, rng=rng)
        ]
        resampled.update({figure: np.concatenate([c[figure] for c in chunks]) for figure in gm.SCORE_METRICS})
        intervals = group_intervals({f: resampled[f] for f in GROUP_FIGURES if f != "count"}, level=confidence)
        for figure, per_group in intervals.items():
            low[figure] = np.array([i.low for i in per_group], dtype=np.float64)  # None -> NaN
            high[figure] = np.array([i.high for i in per_group], dtype=np.float64)
        for name, value in disparity_points.items():
            interval = percentile_interval(
                gm.disparity(resampled, name, eligible=eligible, reference=reference_index), level=confidence
            )
            disparities[name] = Estimate(value, interval.low, interval.high)
    return AttributeAudit(
        attribute=attribute,
        by_group=by_group,
        ci_low=low,
        ci_high=high,
        disparities=disparities,
        excluded=excluded,
        reference=reference if reference is not None else MOST_FAVOURED,
    )


def _exclusions(names: list[str], sizes: np.ndarray, min_size: int) -> dict[str, str]:
    excluded = {}
    for name, size in zip(names, sizes, strict=True):
        if name == UNKNOWN_GROUP:
            excluded[name] = f"sensitive value missing ({int(size)} rows)"
        elif size == 0:
            excluded[name] = "no rows"
        elif size < min_size:
            excluded[name] = f"insufficient data: {int(size)} rows < minimum {min_size}"
    return excluded


def _fairlearn_by_group(
    labels: np.ndarray, decisions: np.ndarray, scores: np.ndarray, groups: pd.Series, names: list[str]
) -> pd.DataFrame:
    """Per-group figures from fairlearn's MetricFrame; groups without rows get NaN (count 0)."""
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    def base_rate(y_true: Any, y_pred: Any) -> float:
        return float(np.mean(y_true))

    def precision(y_true: Any, y_pred: Any) -> float:
        return float(precision_score(y_true, y_pred, zero_division=np.nan))

    def undefined_without(label: int, metric: Any) -> Any:
        """A rate conditioned on a label class is undefined in a group without that class."""
        return lambda y_true, y_pred: metric(y_true, y_pred) if (np.asarray(y_true) == label).any() else np.nan

    decided = MetricFrame(
        metrics={
            "count": count,
            "base_rate": base_rate,
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "tpr": undefined_without(1, true_positive_rate),
            "fpr": undefined_without(0, false_positive_rate),
            "fnr": undefined_without(1, false_negative_rate),
            "precision": precision,
        },
        y_true=labels,
        y_pred=decisions,
        sensitive_features=groups.to_numpy(),
    ).by_group
    scored = MetricFrame(
        metrics={"mean_score": lambda y_true, y_pred: float(np.mean(y_pred)), "ece": expected_calibration_error},
        y_true=labels,
        y_pred=scores,
        sensitive_features=groups.to_numpy(),
    ).by_group
    table = pd.concat([decided, scored], axis=1).astype(float)
    table.index = table.index.astype(str)
    table = table.reindex(names)
    table["count"] = table["count"].fillna(0.0)
    return table


def _impact_ratio(selection: np.ndarray, eligible: np.ndarray, reference: int | None) -> np.ndarray:
    """Each group's selection rate over the reference group's (default: the highest compared rate)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if reference is None:
            top = np.nanmax(np.where(eligible, selection, np.nan), axis=-1, keepdims=True)
        else:
            top = selection[..., reference : reference + 1]
        ratio = selection / top
    return np.where(eligible, ratio, np.nan)


def _point_disparities(by_group: pd.DataFrame, eligible: np.ndarray, reference: int | None) -> dict[str, float | None]:
    """Disparities over the compared groups from fairlearn's per-group figures.

    Equal to fairlearn's ``demographic_parity_*``, ``equalized_odds_*`` and ``equal_opportunity_difference``
    on ordinary data (tested). Where a compared group has no negatives (or no positives), its FPR (TPR) is
    undefined and left out here, where fairlearn's functions would count it as 0 and report a spurious gap.
    """
    table = {column: by_group[column].to_numpy()[None] for column in ("selection_rate", "tpr", "fpr", "precision")}
    return {
        name: finite(gm.disparity(table, name, eligible=eligible, reference=reference)[0]) for name in gm.DISPARITIES
    }
