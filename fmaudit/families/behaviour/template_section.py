"""The template-sensitivity part of the behaviour findings: each template's headline figures, their
spread, the flip rate against the audited template, and the fairness gates re-read under each template.
"""

from __future__ import annotations

from fmaudit.core.findings import Bar, BarChart, Cell, Estimate, Metric, Table
from fmaudit.families.behaviour.outcomes import Outcome
from fmaudit.families.behaviour.sections import TPL, estimate_metric, group_metrics
from fmaudit.families.behaviour.templates import AUDITED, PARITY, GateReading, TemplateFigures, spread


def template_metrics(
    figures: tuple[TemplateFigures, ...],
    flips: dict[str, Outcome],
    pooled: Outcome,
    readings: tuple[GateReading, ...],
    attributes: dict[str, list[str]],
) -> list[Metric]:
    metrics = [
        estimate_metric(f"{TPL}.flip_rate", pooled.overall, "Decisions that differ under an alternative template"),
        estimate_metric(
            f"{TPL}.mean_abs_score_change", pooled.mean_abs_change, "Mean |score change| under the alternatives"
        ),
        *group_metrics(TPL, "flip_rate", pooled, attributes),
        Metric(
            f"{TPL}.roc_auc_spread",
            spread([f.roc_auc for f in figures]),
            "ROC AUC spread across templates (largest - smallest, audited included)",
            "lower",
        ),
        Metric(
            f"{TPL}.gate_verdicts_changed",
            float(sum(r.changes for r in readings)),
            "Fairness gates whose verdict differs under an equivalent template",
            "lower",
        ),
    ]
    for attribute in attributes:
        metrics.append(
            Metric(
                f"{TPL}.{attribute}.{PARITY}_spread",
                spread([f.parity[attribute].value for f in figures]),
                f"Demographic parity ratio spread across templates ({attribute})",
                "lower",
                note="" if len(figures) > 1 else "fewer than two groups large enough to compare",
            )
        )
    for figure in figures:
        prefix = f"{TPL}.templates.{figure.name}"
        metrics.append(Metric(f"{prefix}.roc_auc", figure.roc_auc, f"ROC AUC under template {figure.name}", "higher"))
        metrics += [
            estimate_metric(
                f"{prefix}.{a}.{PARITY}",
                figure.parity[a],
                f"Demographic parity ratio under template {figure.name} ({a})",
                "higher",
                note="fewer than two groups large enough to compare",
            )
            for a in attributes
        ]
        if figure.name != AUDITED:
            metrics.append(
                estimate_metric(
                    f"{prefix}.flip_rate", flips[figure.name].overall, f"Decisions flipped by template {figure.name}"
                )
            )
    return metrics


def template_tables(
    figures: tuple[TemplateFigures, ...],
    flips: dict[str, Outcome],
    readings: tuple[GateReading, ...],
    templates: dict[str, str],
    audited_template: str,
    *,
    min_group_rows: int,
    from_fairness: bool,
) -> list[Table]:
    attributes = list(figures[0].parity)
    rows: list[tuple[Cell, ...]] = []
    for figure in figures:
        flip = flips.get(figure.name)
        rows.append(
            (
                figure.name,
                ", ".join(figure.dropped) or "none",
                figure.roc_auc,
                *(figure.parity[a] for a in attributes),
                flip.overall if flip is not None else None,
                flip.mean_abs_change if flip is not None else None,
            )
        )
    tables = [
        Table(
            title="Template sensitivity: the test split under each equivalent template",
            columns=(
                "Template",
                "Fields left out",
                "ROC AUC",
                *(f"Parity ratio ({a})" for a in attributes),
                "Flip rate vs audited",
                "Mean |score change|",
            ),
            rows=tuple(rows),
            note=f"Parity ratio: fairlearn's demographic parity ratio (smallest / largest selection rate) over groups "
            f"with at least {min_group_rows} test rows, 'unknown' excluded; its interval is simultaneous over every "
            "pair of compared groups, as in the fairness section"
            + (", whose figure the audited row is (the number its gates read)" if from_fairness else "")
            + ". A template that leaves out a field the model reads is allowed, and shown.",
        ),
        Table(
            title="The templates",
            columns=("Template", "Text"),
            rows=((AUDITED, audited_template), *templates.items()),
        ),
    ]
    if readings:
        names = [f.name for f in figures]
        tables.append(
            Table(
                title="Fairness gates re-read under each template",
                columns=("Gate", *names, "Verdict changes"),
                rows=tuple(
                    (r.gate, *(_verdict(r.observed[n], r.verdicts[n]) for n in names), "yes" if r.changes else "no")
                    for r in readings
                ),
                note="Each gate on a parity ratio is evaluated on the figure computed here under every template. "
                "A verdict that changes with an equivalent template rests on the serialisation.",
            )
        )
    return tables


def _verdict(observed: float | None, passed: bool | None) -> str:
    if observed is None or passed is None:
        return "not measured"
    return f"{observed:.3f} ({'pass' if passed else 'FAIL'})"


def parity_chart(figures: tuple[TemplateFigures, ...], attribute: str, confidence: float) -> BarChart:
    estimates: list[tuple[str, Estimate]] = [(f.name, f.parity[attribute]) for f in figures]
    return BarChart(
        title=f"Demographic parity ratio ({attribute}) under each template",
        bars=tuple(
            Bar(
                label=name,
                value=e.value or 0.0,
                ci_low=e.ci_low,
                ci_high=e.ci_high,
                flag="" if e.value is not None else "excluded",
            )
            for name, e in estimates
        ),
        note=f"Whiskers: {confidence:.0%} bootstrap interval over resamples of the test rows.",
    )
