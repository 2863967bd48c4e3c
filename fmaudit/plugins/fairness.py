"""Group fairness a regulator can read: fairlearn's figures per group and per intersection,
with bootstrap intervals on every rate and disparity, impact-ratio tables, significance
tests, counterfactual flips and a post-processing what-if.

Groups too small to compare (below an absolute count or a share of the test split)
and the 'unknown' group are reported with their counts but excluded from disparities,
ratios and tests, with the reason stated: never silently compared, never dropped.
The four-fifths rule (29 CFR 1607.4(D)) is shown as a screening flag, not a verdict.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import numpy as np
from pydantic import Field

from fmaudit.data import UNKNOWN_GROUP
from fmaudit.fairness.attribute import MOST_FAVOURED, AttributeAudit, audit_attribute
from fmaudit.findings import Bar, BarChart, Better, Estimate, Metric, PluginFindings, Table, finite, metric_key
from fmaudit.plugins.base import AuditContext, AuditPlan, AuditPlugin, PluginParams

GROUP_FIGURES: dict[str, tuple[str, Better]] = {
    "count": ("Rows", "none"),
    "base_rate": ("Base rate (favourable label)", "none"),
    "selection_rate": ("Selection rate", "none"),
    "impact_ratio": ("Impact ratio", "higher"),
    "accuracy": ("Accuracy", "higher"),
    "tpr": ("True positive rate", "none"),
    "fpr": ("False positive rate", "none"),
    "fnr": ("False negative rate", "none"),
    "precision": ("Precision", "none"),
    "ece": ("Expected calibration error", "lower"),
    "mean_score": ("Mean score", "none"),
}
DISPARITY_FIGURES: dict[str, tuple[str, Better]] = {
    "demographic_parity_difference": ("Demographic parity difference", "lower"),
    "demographic_parity_ratio": ("Demographic parity ratio", "higher"),
    "equalized_odds_difference": ("Equalized odds difference", "lower"),
    "equalized_odds_ratio": ("Equalized odds ratio", "higher"),
    "equal_opportunity_difference": ("Equal opportunity difference", "lower"),
    "predictive_parity_difference": ("Predictive parity difference", "lower"),
}
MITIGATION_FIGURES: dict[str, tuple[str, Better]] = {
    "accuracy_change": ("Accuracy change", "higher"),
    "demographic_parity_difference_after": ("Demographic parity difference after", "lower"),
    "equalized_odds_difference_after": ("Equalized odds difference after", "lower"),
}
FOUR_FIFTHS = 0.8


class FairnessParams(PluginParams):
    min_group_size: int = Field(20, ge=1, description="groups with fewer test rows are not compared")
    min_group_share: float = Field(
        0.02, ge=0, lt=1, description="groups below this share of the test split are not compared"
    )
    reference: dict[str, str] = Field(
        default_factory=dict, description="attribute -> reference group; otherwise the most favoured group per metric"
    )
    n_boot: int = Field(1000, ge=0, description="bootstrap resamples for intervals (0: no intervals)")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0
    alpha: float = Field(0.05, gt=0, lt=1, description="family-wise significance level of the selection-rate tests")
    correction: Literal["holm", "bonferroni"] = "holm"
    counterfactual: bool = True
    counterfactual_rows: int = Field(200, ge=1, description="seeded sample of test rows re-scored per attribute")
    mitigation: bool = True
    mitigation_fit_share: float = Field(
        0.5, ge=0.2, le=0.8, description="share of the test split used to fit thresholds"
    )


class FairnessPlugin(AuditPlugin[FairnessParams]):
    name = "fairness"
    title = "Fairness"
    Params = FairnessParams

    def check(self, params: FairnessParams, plan: AuditPlan) -> list[str]:
        problems = []
        for attribute, group in params.reference.items():
            if attribute not in plan.attributes:
                problems.append(
                    f"reference.{attribute}: unknown attribute; expected one of: {', '.join(plan.attributes)}"
                )
            elif group not in plan.attributes[attribute]:
                problems.append(
                    f"reference.{attribute}: unknown group {group!r}; expected one of: "
                    f"{', '.join(plan.attributes[attribute])}"
                )
        return problems

    def metric_paths(self, params: FairnessParams, plan: AuditPlan) -> list[str]:
        paths = ["fairness.significant_gaps"]
        for attribute, groups in plan.attributes.items():
            paths += [f"fairness.{attribute}.{d}" for d in DISPARITY_FIGURES]
            for group in groups:
                prefix = f"fairness.{attribute}.groups.{metric_key(group)}"
                paths += [f"{prefix}.{f}" for f in GROUP_FIGURES] + [f"{prefix}.p_value"]
            if params.counterfactual and attribute not in plan.intersections:
                paths += [f"fairness.{attribute}.counterfactual.{f}" for f in ("flip_rate", "mean_score_shift")]
            if params.mitigation:
                paths += [
                    f"fairness.{attribute}.mitigation.{c}.{f}"
                    for c in ("demographic_parity", "equalized_odds")
                    for f in MITIGATION_FIGURES
                ]
        return paths

    def run(self, context: AuditContext, params: FairnessParams) -> PluginFindings:
        from fmaudit.fairness.significance import adjust

        preds = context.predictions
        test_groups = context.data.sensitive.iloc[preds.row_ids].reset_index(drop=True)
        min_size = max(params.min_group_size, math.ceil(params.min_group_share * len(preds.labels)))
        rng = np.random.default_rng(params.seed)
        audits = [
            audit_attribute(
                labels=preds.labels,
                decisions=preds.decisions,
                scores=preds.scores,
                groups=test_groups[attribute],
                all_groups=context.plan.attributes.get(attribute, []),
                min_size=min_size,
                reference=params.reference.get(attribute),
                n_boot=params.n_boot,
                confidence=params.confidence,
                rng=rng,
                attribute=attribute,
            )
            for attribute in test_groups.columns
        ]
        comparisons = [c for audit in audits for c in _comparisons(audit)]
        adjusted = adjust([c["p_value"] for c in comparisons], method=params.correction)
        for comparison, p_adjusted in zip(comparisons, adjusted, strict=True):
            comparison["p_adjusted"] = p_adjusted

        metrics: list[Metric] = [
            Metric(
                "fairness.significant_gaps",
                float(sum(p < params.alpha for p in adjusted)),
                f"Selection-rate gaps significant at {params.alpha:g} after {params.correction} correction",
                "lower",
            )
        ]
        tables: list[Table] = []
        charts: list[BarChart] = []
        for audit in audits:
            p_values = {c["group"]: c["p_adjusted"] for c in comparisons if c["attribute"] == audit.attribute}
            metrics += _attribute_metrics(audit, p_values)
            charts.append(_selection_chart(audit, params.confidence))
            tables += [_impact_table(audit), _group_table(audit), _disparity_table(audit, params.confidence)]
        tables.append(_significance_table(comparisons, params))

        notes = [
            f"Groups with fewer than {min_size} test rows (the larger of {params.min_group_size} rows and "
            f"{params.min_group_share:.0%} of the test split), empty intersection cells and the "
            f"'{UNKNOWN_GROUP}' group are shown with their counts but excluded from ratios, disparities, tests "
            "and gates.",
            f"Intervals: {params.confidence:.0%} percentile bootstrap over {params.n_boot} resamples of the test "
            f"rows (seed {params.seed}). Overlapping intervals do not prove equality.",
            "Selection = the model's favourable decision. The four-fifths rule (29 CFR 1607.4(D)) is a "
            "screening flag from employment law, not a legal verdict; small groups warrant caution.",
        ]
        if params.counterfactual:
            counterfactual_metrics, counterfactual_tables, note = _counterfactuals(context, params, audits)
            metrics += counterfactual_metrics
            tables += counterfactual_tables
            notes.append(note)
        if params.mitigation:
            mitigation_metrics, mitigation_table = _mitigations(context, params, audits)
            metrics += mitigation_metrics
            tables.append(mitigation_table)
        return PluginFindings(
            plugin=self.name,
            title=self.title,
            summary=_summary(audits, comparisons, params),
            metrics=tuple(metrics),
            tables=tuple(tables),
            charts=tuple(charts),
            notes=tuple(notes),
        )


def _comparisons(audit: AttributeAudit) -> list[dict[str, Any]]:
    """Selection-rate tests of every compared group against the reference (default: the most selected)."""
    from fmaudit.fairness.significance import selection_rate_test

    table = audit.by_group
    compared = [g for g in table.index if g not in audit.excluded]
    if len(compared) < 2:
        return []
    reference = (
        audit.reference if audit.reference != MOST_FAVOURED else str(table.loc[compared, "selection_rate"].idxmax())
    )
    rows = []
    for group in compared:
        if group == reference:
            continue
        n, ref_n = int(table.loc[group, "count"]), int(table.loc[reference, "count"])
        selected = round(table.loc[group, "selection_rate"] * n)
        ref_selected = round(table.loc[reference, "selection_rate"] * ref_n)
        test, p_value = selection_rate_test(selected, n, ref_selected, ref_n)
        rows.append(
            {
                "attribute": audit.attribute,
                "group": group,
                "reference": reference,
                "selected": selected,
                "n": n,
                "reference_selected": ref_selected,
                "reference_n": ref_n,
                "test": test,
                "p_value": p_value,
            }
        )
    return rows


def _attribute_metrics(audit: AttributeAudit, p_values: dict[str, float]) -> list[Metric]:
    a = audit.attribute
    metrics = []
    for key, estimate in audit.disparities.items():
        label, better = DISPARITY_FIGURES[key]
        metrics.append(
            Metric(
                f"fairness.{a}.{key}",
                estimate.value,
                f"{label} ({a})",
                better,
                ci_low=estimate.ci_low,
                ci_high=estimate.ci_high,
                note="" if estimate.value is not None else "fewer than two groups large enough to compare",
            )
        )
    for group in audit.by_group.index:
        prefix = f"fairness.{a}.groups.{metric_key(group)}"
        excluded = audit.excluded.get(group, "")
        for figure, (label, better) in GROUP_FIGURES.items():
            value = finite(audit.by_group.loc[group, figure])
            metrics.append(
                Metric(
                    f"{prefix}.{figure}",
                    value,
                    f"{label} ({a} = {group})",
                    better,
                    ci_low=finite(audit.ci_low.loc[group, figure]),
                    ci_high=finite(audit.ci_high.loc[group, figure]),
                    note=excluded or ("" if value is not None else "undefined for this group"),
                )
            )
        p_value = p_values.get(group)
        metrics.append(
            Metric(
                f"{prefix}.p_value",
                p_value,
                f"Adjusted p-value, selection rate vs reference ({a} = {group})",
                "none",
                note="" if p_value is not None else (excluded or "reference group"),
            )
        )
    return metrics


def _impact_table(audit: AttributeAudit) -> Table:
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


def _group_table(audit: AttributeAudit) -> Table:
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


def _disparity_table(audit: AttributeAudit, confidence: float) -> Table:
    rows = tuple((DISPARITY_FIGURES[key][0], estimate) for key, estimate in audit.disparities.items())
    return Table(
        title=f"Disparities by {audit.attribute} (reference: {audit.reference})",
        columns=("Disparity", f"Value [{confidence:.0%} interval]"),
        rows=rows,
        note="Differences are the largest gap between compared groups (or to the reference group); ratios the "
        "smallest ratio, so 1 is parity.",
    )


def _significance_table(comparisons: list[dict[str, Any]], params: FairnessParams) -> Table:
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


def _selection_chart(audit: AttributeAudit, confidence: float) -> BarChart:
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


def _counterfactuals(
    context: AuditContext, params: FairnessParams, audits: list[AttributeAudit]
) -> tuple[list[Metric], list[Table], str]:
    """Flip rates for every plain attribute whose column the model sees."""
    from fmaudit.data import template_fields
    from fmaudit.fairness.counterfactual import counterfactual_flips

    spec, preds = context.spec.data, context.predictions
    fields = set(template_fields(spec.template))
    rng = np.random.default_rng(params.seed)
    take = np.sort(
        rng.choice(len(preds.row_ids), size=min(params.counterfactual_rows, len(preds.row_ids)), replace=False)
    )
    metrics: list[Metric] = []
    summary_rows: list[tuple[Any, ...]] = []
    example_rows: list[tuple[Any, ...]] = []
    for audit in audits:
        if audit.attribute not in spec.sensitive:
            continue
        column = spec.sensitive[audit.attribute].column
        paths = [f"fairness.{audit.attribute}.counterfactual.{f}" for f in ("flip_rate", "mean_score_shift")]
        if column not in fields:
            metrics += [
                Metric(p, 0.0, "Counterfactual", "lower", note=f"{column!r} is not in the model's input") for p in paths
            ]
            continue
        # Every group with rows is a plausible counterfactual, small ones included; 'unknown' is not a value.
        targets = [g for g in audit.by_group.index if audit.by_group.loc[g, "count"] > 0 and g != UNKNOWN_GROUP]
        context.say(f"fairness: counterfactual {audit.attribute} on {len(take)} rows")
        result = counterfactual_flips(
            attribute=audit.attribute,
            column=column,
            frame=context.data.frame,
            groups=context.data.sensitive[audit.attribute],
            rows=preds.row_ids[take],
            scores=preds.scores[take],
            score_records=functools.partial(context.model.predict_records, template=spec.template),
            target_groups=targets,
            threshold=preds.threshold,
        )
        metrics += [
            Metric(paths[0], finite(result.flip_rate), f"Decisions flipped by changing {audit.attribute}", "lower"),
            Metric(paths[1], finite(result.mean_shift), f"Mean score shift when changing {audit.attribute}", "none"),
        ]
        summary_rows += [
            (
                audit.attribute,
                f"{d.from_group} → {d.to_group}",
                d.pairs,
                d.flips,
                d.flips / d.pairs if d.pairs else None,
                d.mean_shift,
            )
            for d in result.directions
        ]
        example_rows += [
            (audit.attribute, e.row, f"{e.original_value} → {e.counterfactual_value}", e.score, e.counterfactual_score)
            for e in result.examples
        ]
    tables = [
        Table(
            title="Counterfactual flips: the same applicant with only the sensitive attribute changed",
            columns=("Attribute", "Change", "Rows", "Flipped decisions", "Flip rate", "Mean score shift"),
            rows=tuple(summary_rows),
        ),
        Table(
            title="Largest counterfactual score shifts",
            columns=("Attribute", "Row", "Value changed", "Score", "Counterfactual score"),
            rows=tuple(example_rows),
        ),
    ]
    note = (
        "Counterfactual rows change only the sensitive column, to the most frequent value of the other group "
        "(the median for numeric columns); where the column also encodes other facts (e.g. marital status), "
        "those change with it."
    )
    return metrics, tables, note


def _mitigations(
    context: AuditContext, params: FairnessParams, audits: list[AttributeAudit]
) -> tuple[list[Metric], Table]:
    """ThresholdOptimizer what-if per attribute over its compared groups (report only)."""
    from fmaudit.fairness.mitigation import CONSTRAINTS, split_halves, threshold_what_if

    preds = context.predictions
    test_groups = context.data.sensitive.iloc[preds.row_ids].astype(str).to_numpy()
    fit, evaluate = split_halves(preds.labels, fit_share=params.mitigation_fit_share, seed=params.seed)
    metrics: list[Metric] = []
    rows: list[tuple[Any, ...]] = []
    for column, audit in enumerate(audits):
        groups = test_groups[:, column]
        compared = np.isin(groups, [g for g in audit.by_group.index if g not in audit.excluded])
        for constraint in CONSTRAINTS:
            prefix = f"fairness.{audit.attribute}.mitigation.{constraint}"
            fit_rows, eval_rows = fit[compared[fit]], evaluate[compared[evaluate]]
            try:
                result = threshold_what_if(
                    labels=preds.labels,
                    scores=preds.scores,
                    groups=groups,
                    constraint=constraint,
                    fit_rows=fit_rows,
                    eval_rows=eval_rows,
                    threshold=preds.threshold,
                    seed=params.seed,
                )
            except ValueError as exc:  # e.g. a group with one label class in the fitting half
                metrics += [
                    Metric(f"{prefix}.{f}", None, label, better, note=f"not fitted: {exc}")
                    for f, (label, better) in MITIGATION_FIGURES.items()
                ]
                rows.append((audit.attribute, constraint, None, None, None, None, None, None, f"not fitted: {exc}"))
                continue
            values = {
                "accuracy_change": result.accuracy_after - result.accuracy_before,
                "demographic_parity_difference_after": result.demographic_parity_difference_after,
                "equalized_odds_difference_after": result.equalized_odds_difference_after,
            }
            metrics += [
                Metric(f"{prefix}.{f}", finite(values[f]), f"{label} ({audit.attribute}, {constraint})", better)
                for f, (label, better) in MITIGATION_FIGURES.items()
            ]
            rows.append(
                (
                    audit.attribute,
                    constraint,
                    result.accuracy_before,
                    result.accuracy_after,
                    result.demographic_parity_difference_before,
                    result.demographic_parity_difference_after,
                    result.equalized_odds_difference_before,
                    result.equalized_odds_difference_after,
                    f"fitted on {result.rows_fitted}, evaluated on {result.rows_evaluated} rows",
                )
            )
    table = Table(
        title="Mitigation what-if: group thresholds (fairlearn ThresholdOptimizer) — report only",
        columns=(
            "Attribute",
            "Constraint",
            "Accuracy before",
            "Accuracy after",
            "DP difference before",
            "DP difference after",
            "EO difference before",
            "EO difference after",
            "Rows",
        ),
        rows=tuple(rows),
        note="Thresholds are fitted on one part of the test split and evaluated on the other; the audited model "
        "is not changed. The cost of closing a gap is the accuracy change.",
    )
    return metrics, table


def _summary(audits: list[AttributeAudit], comparisons: list[dict[str, Any]], params: FairnessParams) -> str:
    parts = []
    for audit in audits:
        ratio = audit.disparities["demographic_parity_ratio"]
        if ratio.value is None:
            parts.append(f"{audit.attribute}: too few comparable groups")
            continue
        interval = f" [{ratio.ci_low:.2f}, {ratio.ci_high:.2f}]" if ratio.ci_low is not None else ""
        flag = " — below four-fifths" if ratio.value < FOUR_FIFTHS else ""
        parts.append(f"{audit.attribute}: demographic parity ratio {ratio.value:.2f}{interval}{flag}")
    significant = [c for c in comparisons if c["p_adjusted"] < params.alpha]
    tail = (
        f"{len(significant)} of {len(comparisons)} selection-rate gaps are significant after "
        f"{params.correction} correction"
        + (": " + ", ".join(f"{c['attribute']} = {c['group']}" for c in significant) if significant else "")
    )
    return "; ".join(parts) + ". " + tail + "."
