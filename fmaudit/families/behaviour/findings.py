"""The behaviour audit's findings: the metric paths it declares before the run (and produces exactly),
and its outcomes assembled into one report section.
"""

from __future__ import annotations

from fmaudit.core.findings import BarChart, Metric, PluginFindings, Table
from fmaudit.families.behaviour.audit import BehaviourResult
from fmaudit.families.behaviour.invariance import planned_tests
from fmaudit.families.behaviour.params import TEXT_ONLY, BehaviourParams
from fmaudit.families.behaviour.sections import (
    INV,
    MONO,
    TPL,
    bar_chart,
    group_path,
    invariance_metrics,
    invariance_tables,
    monotonicity_metrics,
    monotonicity_tables,
)
from fmaudit.families.behaviour.template_section import parity_chart, template_metrics, template_tables
from fmaudit.families.behaviour.templates import AUDITED, PARITY


def group_paths(prefix: str, figure: str, attributes: dict[str, list[str]]) -> list[str]:
    return [group_path(prefix, a, g, figure) for a, groups in attributes.items() for g in groups]


def metric_paths(params: BehaviourParams, *, kind: str, attributes: dict[str, list[str]]) -> list[str]:
    """Every metric path the audit produces for these params on a model of this kind."""
    paths: list[str] = []
    if params.monotonicity:
        for prefix in (MONO, *(f"{MONO}.{f}" for f in params.monotonicity)):
            paths += [f"{prefix}.violation_rate", f"{prefix}.adverse_flip_rate"]
            paths += group_paths(prefix, "violation_rate", attributes)
    for test in planned_tests(params.invariance, kind):
        prefix = f"{INV}.{test}"
        paths += [
            f"{prefix}.flip_rate",
            f"{prefix}.mean_abs_score_change",
            *group_paths(prefix, "flip_rate", attributes),
        ]
        if test == "equivalent_values":
            paths += [f"{prefix}.fields.{f}.flip_rate" for f in params.invariance.values]
    if params.templates:
        paths += [f"{TPL}.flip_rate", f"{TPL}.mean_abs_score_change", *group_paths(TPL, "flip_rate", attributes)]
        paths += [f"{TPL}.roc_auc_spread", f"{TPL}.gate_verdicts_changed"]
        paths += [f"{TPL}.{a}.{PARITY}_spread" for a in attributes]
        for name in (AUDITED, *params.templates):
            paths += [f"{TPL}.templates.{name}.roc_auc", *(f"{TPL}.templates.{name}.{a}.{PARITY}" for a in attributes)]
            if name != AUDITED:
                paths.append(f"{TPL}.templates.{name}.flip_rate")
    return paths


def behaviour_findings(
    result: BehaviourResult,
    params: BehaviourParams,
    *,
    plugin: str,
    title: str,
    kind: str,
    template: str,
    attributes: dict[str, list[str]],
    intersections: tuple[str, ...] = (),
) -> PluginFindings:
    """One report section from every test's outcome."""
    metrics: list[Metric] = []
    tables: list[Table] = []
    charts: list[BarChart] = []
    if result.monotonicity is not None:
        metrics += monotonicity_metrics(result.monotonicity, result.monotone_fields, attributes)
        tables += monotonicity_tables(params, result.monotonicity, result.monotone_fields, attributes)
        charts.append(
            bar_chart(
                "Monotonicity violation rate by declared field",
                {**result.monotone_fields, "all fields": result.monotonicity},
                unit="share of moves",
                note=f"Share of favourable moves that lowered the score by more than {params.tolerance:g}. "
                f"Whiskers: {params.confidence:.0%} bootstrap interval over the sampled rows.",
            )
        )
    if result.invariance:
        metrics += invariance_metrics(result.invariance, result.equivalent_fields, attributes)
        tables += invariance_tables(result.invariance, result.equivalent_fields, attributes)
    flip_bars = {
        **result.invariance,
        **({"alternative templates": result.template_pooled} if result.template_pooled else {}),
    }
    if flip_bars:
        charts.append(
            bar_chart(
                "Decisions flipped by rewritings that should not matter",
                flip_bars,
                unit="share of copies",
                note=f"Whiskers: {params.confidence:.0%} bootstrap interval over the rows. n = rewritten copies.",
            )
        )
    if result.template_pooled is not None:
        metrics += template_metrics(
            result.templates, result.template_flips, result.template_pooled, result.readings, attributes
        )
        tables += template_tables(
            result.templates,
            result.template_flips,
            result.readings,
            params.templates,
            template,
            min_group_rows=result.min_group_rows,
            from_fairness=result.audited_parity_from_fairness,
        )
        charts += [  # one chart per plain attribute with a measured ratio; intersections are in the table
            parity_chart(result.templates, a, params.confidence)
            for a in attributes
            if a not in intersections and any(f.parity[a].value is not None for f in result.templates)
        ]
    return PluginFindings(
        plugin=plugin,
        title=title,
        summary=_summary(result),
        metrics=tuple(metrics),
        tables=tuple(tables),
        charts=tuple(charts),
        notes=tuple(_notes(result, params, kind)),
    )


def _rate(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1%}"


def _summary(result: BehaviourResult) -> str:
    parts = []
    if result.monotonicity is not None:
        m = result.monotonicity
        worst = max(result.monotone_fields.items(), key=lambda item: item[1].overall.value or 0.0)
        parts.append(
            f"monotonicity: {m.events} of {m.pairs} favourable moves lowered the score ({_rate(m.overall.value)}"
            + (f" [{m.overall.ci_low:.1%}, {m.overall.ci_high:.1%}]" if m.overall.ci_low is not None else "")
            + f"), most on {worst[0]} ({_rate(worst[1].overall.value)})"
        )
    if result.invariance:
        parts.append(
            "invariance flip rates: "
            + ", ".join(f"{t.replace('_', ' ')} {_rate(r.overall.value)}" for t, r in result.invariance.items())
        )
    if result.template_pooled is not None:
        changed = sum(r.changes for r in result.readings)
        aucs = ", ".join(f"{f.name} {f.roc_auc:.3f}" for f in result.templates if f.roc_auc is not None)
        parts.append(
            f"alternative templates flip {_rate(result.template_pooled.overall.value)} of decisions (ROC AUC {aucs}); "
            f"{changed} of {len(result.readings)} parity gate verdicts change"
        )
    if not parts:
        return "No behavioural test was declared or applies."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _notes(result: BehaviourResult, params: BehaviourParams, kind: str) -> list[str]:
    notes = [
        f"Monotonicity and invariance edit a seeded sample of {len(result.sampled)} test rows (seed {params.seed})"
        + ("; template sensitivity scores the whole test split" if params.templates else "")
        + f". {result.edits_scored} edited rows were scored in one batched pass.",
        f"Intervals: {params.confidence:.0%} percentile bootstrap over {params.n_boot} resamples of the rows, each "
        "row with all its edited copies (the copies of one row are not independent).",
    ]
    if not params.monotonicity:
        notes.append("No monotonic expectation was declared: directions are domain claims and are never guessed.")
    if kind != "text":
        notes.append(
            f"Not run on this {kind} model: {', '.join(t.replace('_', ' ') for t in TEXT_ONLY)} invariance and "
            "template sensitivity rewrite the serialised text, which it does not read."
        )
    dropped = [f for f in result.templates if f.dropped]
    notes += [
        f"Template {f.name} leaves out {', '.join(f.dropped)}: its figures describe a model that cannot see them."
        for f in dropped
    ]
    return notes
