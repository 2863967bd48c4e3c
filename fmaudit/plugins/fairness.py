"""Group fairness through fairlearn: per-group rates and disparities for each
sensitive attribute and each declared intersection.

Groups too small to compare (below an absolute count or a share of the test
split) and the 'unknown' group are reported with their counts but excluded from
the disparities, with the reason stated: never silently compared, never dropped.
The four-fifths rule (29 CFR 1607.4(D)) is shown as a screening line only.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from fmaudit.data import UNKNOWN_GROUP
from fmaudit.findings import Bar, BarChart, Better, Metric, PluginFindings, Table, metric_key
from fmaudit.plugins.base import AuditContext, AuditPlan, AuditPlugin, PluginParams

GROUP_FIGURES: dict[str, tuple[str, Better]] = {
    "count": ("Rows", "none"),
    "selection_rate": ("Selection rate", "none"),
    "accuracy": ("Accuracy", "higher"),
    "tpr": ("True positive rate", "none"),
    "fpr": ("False positive rate", "none"),
}
DISPARITIES: dict[str, tuple[str, Better]] = {
    "demographic_parity_difference": ("Demographic parity difference", "lower"),
    "demographic_parity_ratio": ("Demographic parity ratio", "higher"),
    "equalized_odds_difference": ("Equalized odds difference", "lower"),
    "equalized_odds_ratio": ("Equalized odds ratio", "higher"),
}
FOUR_FIFTHS = 0.8


class FairnessParams(PluginParams):
    min_group_size: int = Field(20, ge=1, description="groups with fewer test rows are not compared")
    min_group_share: float = Field(
        0.02, ge=0, lt=1, description="groups below this share of the test split are not compared"
    )


@dataclass(frozen=True)
class AttributeResult:
    """fairlearn's figures for one attribute: per-group table and the disparities."""

    by_group: pd.DataFrame
    eligible: list[str]
    excluded: dict[str, str]
    disparities: dict[str, float | None]


def audit_attribute(labels: np.ndarray, decisions: np.ndarray, groups: pd.Series, *, min_size: int) -> AttributeResult:
    """Per-group metrics over all groups; disparities over the groups large enough to compare."""
    from fairlearn.metrics import (
        MetricFrame,
        count,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    groups = groups.reset_index(drop=True)
    with warnings.catch_warnings():  # a group with no positives has an undefined TPR: reported as n/a
        warnings.simplefilter("ignore", RuntimeWarning)
        frame = MetricFrame(
            metrics={
                "count": count,
                "selection_rate": selection_rate,
                "accuracy": accuracy_score,
                "tpr": true_positive_rate,
                "fpr": false_positive_rate,
            },
            y_true=labels,
            y_pred=decisions,
            sensitive_features=groups,
        ).by_group
    excluded: dict[str, str] = {}
    for group, size in frame["count"].items():
        if group == UNKNOWN_GROUP:
            excluded[str(group)] = "sensitive value missing"
        elif size < min_size:
            excluded[str(group)] = f"{int(size)} rows < minimum {min_size}"
    eligible = [str(g) for g in frame.index if str(g) not in excluded]
    disparities: dict[str, float | None] = dict.fromkeys(DISPARITIES)
    if len(eligible) >= 2:
        mask = groups.isin(eligible).to_numpy()
        args = (labels[mask], decisions[mask])
        features = groups[mask].to_numpy()
        disparities = {
            "demographic_parity_difference": demographic_parity_difference(*args, sensitive_features=features),
            "demographic_parity_ratio": demographic_parity_ratio(*args, sensitive_features=features),
            "equalized_odds_difference": equalized_odds_difference(*args, sensitive_features=features),
            "equalized_odds_ratio": equalized_odds_ratio(*args, sensitive_features=features),
        }
    return AttributeResult(
        by_group=frame,
        eligible=eligible,
        excluded=excluded,
        disparities={k: _finite(v) for k, v in disparities.items()},
    )


class FairnessPlugin(AuditPlugin[FairnessParams]):
    name = "fairness"
    title = "Fairness"
    Params = FairnessParams

    def metric_paths(self, params: FairnessParams, plan: AuditPlan) -> list[str]:
        paths = []
        for attribute, groups in plan.attributes.items():
            paths += [f"fairness.{attribute}.{d}" for d in DISPARITIES]
            paths += [f"fairness.{attribute}.groups.{metric_key(g)}.{f}" for g in groups for f in GROUP_FIGURES]
        return paths

    def run(self, context: AuditContext, params: FairnessParams) -> PluginFindings:
        preds = context.predictions
        test_groups = context.data.sensitive.iloc[preds.row_ids].reset_index(drop=True)
        min_size = max(params.min_group_size, math.ceil(params.min_group_share * len(preds.labels)))
        metrics: list[Metric] = []
        tables: list[Table] = []
        charts: list[BarChart] = []
        lines: list[str] = []
        for attribute in test_groups.columns:
            result = audit_attribute(preds.labels, preds.decisions, test_groups[attribute], min_size=min_size)
            metrics += _attribute_metrics(attribute, result)
            tables.append(_group_table(attribute, result))
            charts.append(_selection_chart(attribute, result))
            ratio = result.disparities["demographic_parity_ratio"]
            lines.append(
                f"{attribute}: demographic parity ratio "
                + ("n/a (fewer than two comparable groups)" if ratio is None else f"{ratio:.3f}")
                + (" — below four-fifths" if ratio is not None and ratio < FOUR_FIFTHS else "")
            )
        return PluginFindings(
            plugin=self.name,
            title=self.title,
            summary="; ".join(lines) + ".",
            metrics=tuple(metrics),
            tables=tuple(tables),
            charts=tuple(charts),
            notes=(
                f"Groups with fewer than {min_size} test rows (max of {params.min_group_size} rows and "
                f"{params.min_group_share:.0%} of the test split) and the '{UNKNOWN_GROUP}' group are shown "
                "but excluded from disparities.",
                "Selection = the model's favourable decision. The four-fifths rule (29 CFR 1607.4(D)) is a "
                "screening flag from employment law, not a legal verdict; small groups warrant caution.",
            ),
        )


def _attribute_metrics(attribute: str, result: AttributeResult) -> list[Metric]:
    metrics = []
    for key, value in result.disparities.items():
        label, better = DISPARITIES[key]
        note = "" if value is not None else "fewer than two groups large enough to compare"
        metrics.append(Metric(f"fairness.{attribute}.{key}", value, f"{label} ({attribute})", better, note=note))
    for group, row in result.by_group.iterrows():
        for figure, (label, better) in GROUP_FIGURES.items():
            value = _finite(row[figure])
            metrics.append(
                Metric(
                    f"fairness.{attribute}.groups.{metric_key(str(group))}.{figure}",
                    value,
                    f"{label} ({attribute} = {group})",
                    better,
                    note=result.excluded.get(str(group), "") if value is not None else "undefined for this group",
                )
            )
    return metrics


def _group_table(attribute: str, result: AttributeResult) -> Table:
    frame = result.by_group
    eligible_rates = frame.loc[frame.index.isin(result.eligible), "selection_rate"]
    best = float(eligible_rates.max()) if len(eligible_rates) else float("nan")
    rows = []
    for group, row in frame.iterrows():
        status = result.excluded.get(str(group), "compared")
        ratio = row["selection_rate"] / best if str(group) in result.eligible and best > 0 else None
        rows.append(
            (
                str(group),
                int(row["count"]),
                _finite(row["selection_rate"]),
                _finite(ratio),
                _finite(row["accuracy"]),
                _finite(row["tpr"]),
                _finite(row["fpr"]),
                status if ratio is None or ratio >= FOUR_FIFTHS else f"{status}; below four-fifths",
            )
        )
    return Table(
        title=f"By {attribute}",
        columns=("Group", "Rows", "Selection rate", "Impact ratio", "Accuracy", "TPR", "FPR", "Status"),
        rows=tuple(rows),
        note="Impact ratio = the group's selection rate / the highest compared group's selection rate.",
    )


def _selection_chart(attribute: str, result: AttributeResult) -> BarChart:
    frame = result.by_group
    eligible = frame.loc[frame.index.isin(result.eligible), "selection_rate"]
    bars = tuple(
        Bar(
            label=f"{group} (n={int(row['count'])})",
            value=float(row["selection_rate"]),
            flag="excluded" if str(group) in result.excluded else "",
        )
        for group, row in frame.iterrows()
    )
    return BarChart(
        title=f"Selection rate by {attribute}",
        bars=bars,
        reference=FOUR_FIFTHS * float(eligible.max()) if len(eligible) else None,
        note="Dashed line: four-fifths of the highest compared group's rate.",
    )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
