"""Group fairness a regulator can read: fairlearn's figures per group and per intersection,
with bootstrap intervals on every rate and disparity, impact-ratio tables, significance and
equivalence tests, counterfactual flips and a post-processing what-if, assembled into the plugin's findings.

Groups too small to compare (below an absolute count or a share of the test split)
and the 'unknown' group are reported with their counts but excluded from disparities,
ratios and tests, with the reason stated: never silently compared, never dropped.
The four-fifths rule (29 CFR 1607.4(D)) is shown as a screening flag, not a verdict.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from fmaudit.core.findings import BarChart, Metric, PluginFindings, Table, finite, metric_key
from fmaudit.core.intervals import stream
from fmaudit.data import UNKNOWN_GROUP
from fmaudit.families.fairness.attribute import AttributeAudit, audit_attribute
from fmaudit.families.fairness.equivalence import (
    Equivalence,
    all_established,
    attribute_note,
    equivalence_tests,
    group_note,
)
from fmaudit.families.fairness.group_metrics import SCORE_BINNING
from fmaudit.families.fairness.params import (
    DISPARITY_FIGURES,
    FOUR_FIFTHS,
    GROUP_FIGURES,
    MITIGATION_FIGURES,
    REFERENCE_FIGURES,
    FairnessParams,
)
from fmaudit.families.fairness.reference_gaps import (
    SIMULTANEOUS,
    UNDEFINED_SHOWN,
    comparisons,
    disparity_note,
    family_note,
    figure_note,
    gap_table,
)
from fmaudit.families.fairness.significance import Comparison
from fmaudit.families.fairness.tables import (
    disparity_table,
    equivalence_table,
    group_table,
    impact_table,
    selection_chart,
    significance_table,
)
from fmaudit.metrics.parity import compared_min_size
from fmaudit.plugins.context import AuditContext

ABSENCE_OF_EVIDENCE = (
    "A count of 0 is absence of evidence, not parity: it is reached more easily the more comparisons the family "
    "holds and the smaller the groups. To establish parity, gate fairness.<attribute>.parity_established."
)


def fairness_findings(context: AuditContext, params: FairnessParams, *, plugin: str, title: str) -> PluginFindings:
    """Every attribute's (and intersection's) group figures, disparities and tests, with the what-ifs."""
    preds = context.predictions
    test_groups = context.data.sensitive.iloc[preds.row_ids].reset_index(drop=True)
    min_size = compared_min_size(
        len(preds.labels), min_group_size=params.min_group_size, min_group_share=params.min_group_share
    )
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
            rng=stream(params.seed, f"fairness.{attribute}"),  # its own stream: attributes never shift each other
            attribute=attribute,
        )
        for attribute in test_groups.columns
    ]
    tests = comparisons(audits, method=params.correction)
    equivalences = {a.attribute: equivalence_tests(a, margin=params.parity_margin, alpha=params.alpha) for a in audits}
    metrics: list[Metric] = [
        Metric(
            "fairness.significant_gaps",
            float(sum(t.p_adjusted < params.alpha for t in tests)),
            f"Selection-rate gaps significant at {params.alpha:g} after {params.correction} correction "
            "(absence of evidence, not parity)",
            "lower",
            note=f"{family_note(audits, tests, params.correction)} {ABSENCE_OF_EVIDENCE}",
        )
    ]
    tables: list[Table] = []
    charts: list[BarChart] = []
    for audit in audits:
        p_values = {t.group: t.p_adjusted for t in tests if t.attribute == audit.attribute}
        metrics += _attribute_metrics(audit, p_values)
        metrics += _equivalence_metrics(audit, equivalences[audit.attribute], params)
        charts.append(selection_chart(audit, params.confidence))
        tables += [
            impact_table(audit),
            group_table(audit),
            gap_table(audit, params.confidence),
            disparity_table(audit, params.confidence),
        ]
    tables.append(significance_table(tests, params))
    tables.append(equivalence_table([t for group in equivalences.values() for t in group], params))

    notes = [
        f"Groups with fewer than {min_size} test rows (the larger of {params.min_group_size} rows and "
        f"{params.min_group_share:.0%} of the test split), empty intersection cells and the "
        f"'{UNKNOWN_GROUP}' group are shown with their counts but excluded from ratios, disparities, tests "
        "and gates.",
        f"Intervals: {params.confidence:.0%} bootstrap over {params.n_boot} resamples of the test rows (seed "
        f"{params.seed}), percentile intervals for each group's figures and its gaps to the reference, "
        f"simultaneous ones for the disparities. Overlapping intervals do not prove equality. {SCORE_BINNING}",
        "Gaps to the reference group are signed and between groups fixed before resampling, so an interval can "
        "contain parity: each group against its attribute's reference group (declared, or the largest compared "
        "group). Summary disparities keep fairlearn's between-groups definition as the estimate; their intervals, "
        f"and the impact ratios' when no reference is declared, are {SIMULTANEOUS}, and reach parity when "
        "every pair's interval does.",
        f"Where a figure was undefined in more than {UNDEFINED_SHOWN:.0%} of resamples (e.g. a small group drawn "
        "without positives), its note says how often; its interval comes from the other resamples.",
        f"{family_note(audits, tests, params.correction)} {ABSENCE_OF_EVIDENCE}",
        f"Selection parity is established by equivalence tests: two one-sided score tests per group that its "
        f"selection rate over the reference's lies inside [{params.parity_margin:g}, "
        f"{1 / params.parity_margin:.4g}] at {params.alpha:g}, and for an attribute, every group's (an "
        "intersection–union test, no multiplicity correction needed). Gate fairness.<attribute>."
        "parity_established >= 1 to require parity.",
        "Selection = the model's favourable decision. The four-fifths rule (29 CFR 1607.4(D)) is a "
        "screening flag from employment law, not a legal verdict; small groups warrant caution.",
    ]
    if params.counterfactual:
        counterfactual_metrics, counterfactual_tables, note = _counterfactuals(context, params, audits)
        metrics += counterfactual_metrics
        tables += counterfactual_tables
        notes.append(note)
    elif not context.plan.can_rescore:
        notes.append(
            "Counterfactual flips were not run: they re-score rows with the attribute changed, and a file of scores "
            "holds no model."
        )
    if params.mitigation:
        mitigation_metrics, mitigation_table = _mitigations(context, params, audits)
        metrics += mitigation_metrics
        tables.append(mitigation_table)
    return PluginFindings(
        plugin=plugin,
        title=title,
        summary=_summary(audits, tests, equivalences, params),
        metrics=tuple(metrics),
        tables=tuple(tables),
        charts=tuple(charts),
        notes=tuple(notes),
    )


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
                note=disparity_note(audit, key),
            )
        )
    for group in audit.by_group.index:
        prefix = f"fairness.{a}.groups.{metric_key(group)}"
        for figure, (label, better) in {**GROUP_FIGURES, **REFERENCE_FIGURES}.items():
            value = finite(audit.by_group.loc[group, figure])
            against = f"; reference {audit.reference}" if figure in REFERENCE_FIGURES else ""
            metrics.append(
                Metric(
                    f"{prefix}.{figure}",
                    value,
                    f"{label} ({a} = {group}{against})",
                    better,
                    ci_low=finite(audit.ci_low.loc[group, figure]),
                    ci_high=finite(audit.ci_high.loc[group, figure]),
                    note=figure_note(audit, group, figure, value),
                )
            )
        p_value = p_values.get(group)
        metrics.append(
            Metric(
                f"{prefix}.p_value",
                p_value,
                f"Adjusted p-value, selection rate vs reference ({a} = {group}; reference {audit.reference})",
                "none",
                note="" if p_value is not None else figure_note(audit, group, "selection_rate_difference", None),
            )
        )
    return metrics


def _equivalence_metrics(audit: AttributeAudit, tests: list[Equivalence], params: FairnessParams) -> list[Metric]:
    """Whether selection parity is established, per compared group and for the attribute as a whole."""
    a, margin, alpha = audit.attribute, params.parity_margin, params.alpha
    within = f"selection-rate ratio to {audit.reference} within [{margin:g}, {1 / margin:.4g}]"
    verdict = all_established(tests)
    metrics = [
        Metric(
            f"fairness.{a}.parity_established",
            None if verdict is None else float(verdict),
            f"Selection parity established for every compared group ({a}; {within})",
            "higher",
            note=attribute_note(audit, tests, margin=margin, alpha=alpha),
        )
    ]
    by_group = {t.group: t for t in tests}
    for group in audit.by_group.index:
        test = by_group.get(str(group))
        metrics.append(
            Metric(
                f"fairness.{a}.groups.{metric_key(group)}.parity_established",
                None if test is None or test.established is None else float(test.established),
                f"Selection parity established ({a} = {group}; {within})",
                "higher",
                note=group_note(test, margin=margin, alpha=alpha)
                if test
                else figure_note(audit, group, "selection_rate_ratio", None),
            )
        )
    return metrics


def _counterfactuals(
    context: AuditContext, params: FairnessParams, audits: list[AttributeAudit]
) -> tuple[list[Metric], list[Table], str]:
    """Flip rates for every plain attribute whose column the model sees."""
    from fmaudit.data import template_fields
    from fmaudit.families.fairness.counterfactual import counterfactual_flips

    spec, preds = context.spec.data, context.predictions
    fields = set(template_fields(spec.template))
    rng = stream(params.seed, "fairness.counterfactual")
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
            applicant_rows=True,
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
    from fmaudit.families.fairness.mitigation import CONSTRAINTS, split_halves, threshold_what_if

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


def _summary(
    audits: list[AttributeAudit],
    tests: list[Comparison],
    equivalences: dict[str, list[Equivalence]],
    params: FairnessParams,
) -> str:
    parts = []
    for audit in audits:
        ratio = audit.disparities["demographic_parity_ratio"]
        if ratio.value is None:
            parts.append(f"{audit.attribute}: too few comparable groups")
            continue
        interval = f" [{ratio.ci_low:.2f}, {ratio.ci_high:.2f}]" if ratio.ci_low is not None else ""
        flag = " — below four-fifths" if ratio.value < FOUR_FIFTHS else ""
        parts.append(f"{audit.attribute}: demographic parity ratio {ratio.value:.2f}{interval}{flag}")
    significant = [t for t in tests if t.p_adjusted < params.alpha]
    tail = (
        f"{len(significant)} of {len(tests)} selection-rate gaps to the reference groups are significant after "
        f"{params.correction} correction"
        + (": " + ", ".join(f"{t.attribute} = {t.group} vs {t.reference}" for t in significant) if significant else "")
    )
    established = [a for a, group in equivalences.items() if all_established(group)]
    parity = (
        f"selection parity (ratio to the reference within [{params.parity_margin:g}, "
        f"{1 / params.parity_margin:.4g}]) is established for {len(established)} of {len(equivalences)} "
        "attributes" + (": " + ", ".join(established) if established else "")
    )
    return "; ".join(parts) + ". " + tail + "; " + parity + "."
