"""The fairness section's tables and chart: impact ratios, group figures, disparities, significance tests,
selection rates by group. Layout data only; the figures come from ``attribute.audit_attribute``."""

from __future__ import annotations

from typing import Any

from fmaudit.fairness.attribute import MOST_FAVOURED, AttributeAudit
from fmaudit.fairness.params import DISPARITY_FIGURES, FOUR_FIFTHS, FairnessParams
from fmaudit.findings import Bar, BarChart, Estimate, Table, finite


def impact_table(audit: AttributeAudit) -> Table:
    """The bias-audit table of NYC Local Law 144 (6 RCNY 5-301): category, applicants, rate, impact ratio."""
    rows = []
    for group, row in audit.by_group.iterrows():
        ratio = finite(row["impact_ratio"])
        flag = audit.excluded.get(str(group), "")
        if ratio is not None and ratio < FOUR_FIFTHS:
            flag = "below four-fifths"
        rows.append((str(group), int(row["count"]), finite(row["selection_rate"]), ratio, flag))
    reference = "the most selected compared group" if audit.reference == MOST_FAVOURED else f"'{audit.reference}'"
    return Table(
        title=f"Impact ratios by {audit.attribute}",
        columns=("Category", "Number of applicants", "Selection rate", "Impact ratio", "Flag"),
        rows=tuple(rows),
        note=f"Impact ratio = the category's selection rate / the selection rate of {reference}. "
        "Excluded categories keep their counts (including 'unknown') but get no ratio.",
    )


def group_table(audit: AttributeAudit) -> Table:
    figures = ("base_rate", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision", "ece", "mean_score")
    rows = []
    for group, row in audit.by_group.iterrows():
        cells: list[Any] = [str(group), int(row["count"])]
        for figure in figures:
            cells.append(
                Estimate(
                    finite(row[figure]),
                    finite(audit.ci_low.loc[group, figure]),
                    finite(audit.ci_high.loc[group, figure]),
                )
            )
        rows.append(tuple(cells))
    return Table(
        title=f"Group metrics by {audit.attribute}",
        columns=(
            "Group",
            "Rows",
            "Base rate",
            "Selection rate",
            "Accuracy",
            "TPR",
            "FPR",
            "FNR",
            "Precision",
            "ECE",
            "Mean score",
        ),
        rows=tuple(rows),
    )


def disparity_table(audit: AttributeAudit, confidence: float) -> Table:
    rows = tuple((DISPARITY_FIGURES[key][0], estimate) for key, estimate in audit.disparities.items())
    return Table(
        title=f"Disparities by {audit.attribute} (reference: {audit.reference})",
        columns=("Disparity", f"Value [{confidence:.0%} interval]"),
        rows=rows,
        note="Differences are the largest gap between compared groups (or to the reference group); ratios the "
        "smallest ratio, so 1 is parity.",
    )


def significance_table(comparisons: list[dict[str, Any]], params: FairnessParams) -> Table:
    rows = tuple(
        (
            c["attribute"],
            c["group"],
            c["reference"],
            c["selected"] / c["n"],
            c["reference_selected"] / c["reference_n"],
            c["test"],
            c["p_value"],
            c["p_adjusted"],
            "yes" if c["p_adjusted"] < params.alpha else "no",
        )
        for c in comparisons
    )
    return Table(
        title="Are the selection-rate gaps more than noise?",
        columns=(
            "Attribute",
            "Group",
            "Reference",
            "Selection rate",
            "Reference rate",
            "Test",
            "p",
            f"p ({params.correction})",
            "Significant",
        ),
        rows=rows,
        note=f"Fisher's exact test where an expected cell count is below 5, else a two-proportion z-test; "
        f"{params.correction} correction over all {len(comparisons)} comparisons; significance level {params.alpha:g}.",
    )


def selection_chart(audit: AttributeAudit, confidence: float) -> BarChart:
    table = audit.by_group
    compared = table.loc[[g for g in table.index if g not in audit.excluded], "selection_rate"]
    bars = tuple(
        Bar(
            label=f"{group} (n={int(row['count'])})",
            value=finite(row["selection_rate"]) or 0.0,
            flag="excluded" if group in audit.excluded else "",
            ci_low=finite(audit.ci_low.loc[group, "selection_rate"]),
            ci_high=finite(audit.ci_high.loc[group, "selection_rate"]),
        )
        for group, row in table.iterrows()
    )
    return BarChart(
        title=f"Selection rate by {audit.attribute}",
        bars=bars,
        reference=FOUR_FIFTHS * float(compared.max()) if len(compared) else None,
        note=f"Whiskers: {confidence:.0%} bootstrap interval. Dashed line: four-fifths of the highest compared rate.",
    )
