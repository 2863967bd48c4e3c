"""From collected attributions to the explanations section's findings: metrics, importance and group charts,
faithfulness curves of the sampled global view, and the adverse-action notices (``notice_findings``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fmaudit.core.findings import (
    Bar,
    BarChart,
    Chart,
    Highlight,
    LineChart,
    Metric,
    PluginFindings,
    Table,
    Token,
    finite,
    metric_key,
)
from fmaudit.families.explanations.params import IG, METHOD_TITLES, ExplanationsParams

if TYPE_CHECKING:
    from fmaudit.families.explanations.fields import FieldInputs
    from fmaudit.families.explanations.notices import Notice
    from fmaudit.families.explanations.reference import ReferenceApplicant
    from fmaudit.metrics.association import Association
    from fmaudit.plugins.context import AuditContext


@dataclass
class Collected:
    """What the chunks of rows add up to."""

    rows: list[int] = field(default_factory=list)
    attributions: dict[str, list[np.ndarray]] = field(default_factory=dict)
    deltas: list[np.ndarray] = field(default_factory=list)
    deletion: dict[str, np.ndarray] = field(default_factory=dict)
    insertion: dict[str, np.ndarray] = field(default_factory=dict)
    curve_rows: int = 0
    infidelity: dict[str, list[np.ndarray]] = field(default_factory=dict)
    sensitivity: dict[str, list[np.ndarray]] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    associations: tuple[Association, ...] = ()
    """Each reason field's association with each sensitive attribute (the proxy flags' basis)."""
    highlights: list[Highlight] = field(default_factory=list)


def explanation_findings(
    context: AuditContext,
    params: ExplanationsParams,
    collected: Collected,
    *,
    fields: list[str],
    sensitive: list[int],
    reference: ReferenceApplicant,
    methods: tuple[str, ...],
    title: str,
    name: str,
    black_box: bool = False,
) -> PluginFindings:
    """The section: metrics, charts, tables and notes of one explanations run. ``methods``: Integrated Gradients
    and a perturbation method, or (``black_box``: a pipeline, no gradients) the perturbation method alone; the
    first is the one the sensitive share and the group view read."""
    from fmaudit.families.explanations.groups import mean_shares
    from fmaudit.families.explanations.notice_findings import notice_findings

    rows = np.array(collected.rows)
    attributions = {m: np.concatenate(parts) for m, parts in collected.attributions.items()}
    shares = {m: mean_shares(a) for m, a in attributions.items()}
    primary = methods[0]
    sensitive_share = float(shares[primary][sensitive].sum())
    short = "IG" if primary == IG else METHOD_TITLES[primary].lower()

    convergence, agreement = _two_method_metrics(collected, shares, methods, n_fields=len(fields))
    metrics = [
        *convergence,
        Metric(
            "explanations.sensitive_share",
            sensitive_share,
            f"Share of {short} attribution on sensitive fields",
            "lower",
        ),
        *agreement,
    ]
    faithfulness_metrics, faithfulness_rows, curve_charts = _faithfulness_findings(collected, methods, black_box)
    metrics += faithfulness_metrics
    notices = notice_findings(context, params, collected.notices, collected.associations, fields)
    metrics += notices.metrics
    group_metrics, group_chart, group_tables = _group_findings(
        context, attributions[primary], rows, fields, sensitive, primary
    )
    metrics += group_metrics

    importance_charts: list[Chart] = [
        BarChart(
            title=f"Global field importance, {METHOD_TITLES[m]} (mean share of |attribution|, {len(rows)} rows)",
            bars=tuple(
                Bar(fields[f], float(shares[m][f]), "sensitive" if f in sensitive else "")
                for f in np.argsort(-shares[m], kind="stable")
            ),
            unit="share",
        )
        for m in methods
    ]
    tables = [
        *notices.tables,
        Table(
            title="Faithfulness of each method (fields set to the reference applicant's values)",
            columns=(
                "Method",
                "Deletion AUC",
                "Random deletion AUC",
                "Insertion AUC",
                "Random insertion AUC",
                "Infidelity",
                "Sensitivity (max)",
            ),
            rows=tuple(faithfulness_rows),
            note="Deletion: P(favourable) as the most favourable fields (by attribution) take the reference "
            "applicant's values — lower area is more faithful. Insertion: from the reference applicant, the "
            "applicant's own values put back in the same order — higher area is more faithful. Random: "
            f"{params.random_orders} seeded random orders.",
        ),
        Table(
            title=f"Reference applicant (baseline): {reference.describe()}",
            columns=("Field", "Value"),
            rows=tuple((f, str(reference.record[f])) for f in fields),
        ),
        *group_tables,
    ]
    if IG in methods:
        deltas = np.abs(np.concatenate(collected.deltas))
        summary = notices.summary + (
            f"Global view of {len(rows)} sampled rows: Integrated Gradients ({params.n_steps} steps) and "
            f"{METHOD_TITLES[methods[1]].lower()} against {reference.describe()}; sensitive fields carry "
            f"{sensitive_share:.1%} of IG attribution; mean |convergence delta| {deltas.mean():.4f}."
        )
    else:
        summary = notices.summary + (
            f"Global view of {len(rows)} sampled rows: {METHOD_TITLES[primary].lower()} against "
            f"{reference.describe()}; sensitive fields carry {sensitive_share:.1%} of its attribution. Integrated "
            "Gradients does not apply: the model is scored through its own code, without gradients (see the notes)."
        )
    return PluginFindings(
        plugin=name,
        title=title,
        summary=summary,
        metrics=tuple(metrics),
        charts=(*importance_charts, *([notices.chart] if notices.chart else []), *curve_charts, group_chart),
        tables=tuple(tables),
        highlights=tuple(collected.highlights),
        notes=(
            f"Baseline (Reg B, 12 CFR 1002.9(b)(2), comment 9(b)(2)-5): {reference.describe()}. Attributions "
            "explain P(favourable) relative to that applicant: negative pushes toward denial.",
            f"Adverse-action notices: the up to {params.max_reasons} fields pushing furthest toward denial, by "
            "occlusion (each field in turn takes the reference applicant's value and the row is re-scored), "
            "sensitive attributes excluded. A notice fails its check when its reasons, replaced together, raise "
            "the score less than as many next-best fields, or Shapley value sampling finds a reason not pushing "
            "toward denial.",
            "Text: each field's reference value is placed where the applicant's value is, truncated or padded with "
            "[PAD] to the same number of tokens; template text is identical in both and carries no attribution. "
            "Highlights: green pushes toward the favourable decision, red away from it.",
            *([BLACK_BOX_SKIPPED] if black_box else []),
        ),
    )


CONTINUOUS_ONLY = "applies to continuous inputs; a text model reads token ids"
BLACK_BOX_SKIPPED = (
    "Not computed for a model scored through its own code (a skops or ONNX pipeline), which has no gradients: "
    "Integrated Gradients and its convergence deltas, the rank agreement of two methods, and max sensitivity "
    "(noise on 0/1 field indicators means nothing). The perturbation method replaces whole fields by the reference "
    "applicant's values, which needs only the model's scores."
)


def _two_method_metrics(
    collected: Collected, shares: dict[str, np.ndarray], methods: tuple[str, ...], *, n_fields: int
) -> tuple[list[Metric], list[Metric]]:
    """IG's convergence deltas, and the rank agreement of the two methods; neither with one method (a pipeline)."""
    from scipy.stats import spearmanr

    if IG not in methods:
        return [], []
    deltas = np.abs(np.concatenate(collected.deltas))
    agreement = finite(spearmanr(shares[methods[0]], shares[methods[1]]).statistic) if n_fields > 2 else None
    convergence = [
        Metric(
            "explanations.convergence_delta.mean_abs", float(deltas.mean()), "IG convergence delta, mean |δ|", "lower"
        ),
        Metric("explanations.convergence_delta.max_abs", float(deltas.max()), "IG convergence delta, max |δ|", "lower"),
    ]
    return convergence, [
        Metric(
            "explanations.method_agreement",
            agreement,
            f"Rank agreement of global field importance, IG vs {METHOD_TITLES[methods[1]]} (Spearman)",
            "higher",
            note="" if agreement is not None else "undefined: a method gave every field the same importance",
        )
    ]


def _faithfulness_findings(
    collected: Collected, methods: tuple[str, ...], black_box: bool
) -> tuple[list[Metric], list[tuple[Any, ...]], list[Chart]]:
    n = max(collected.curve_rows, 1)
    deletion = {k: v / n for k, v in collected.deletion.items()}
    insertion = {k: v / n for k, v in collected.insertion.items()}
    depth = len(deletion["random"]) - 1

    def area(curve: np.ndarray) -> float:
        return float(np.trapezoid(curve) / max(depth, 1))

    metrics: list[Metric] = []
    rows: list[tuple[Any, ...]] = []
    for m in methods:
        infidelity = float(np.concatenate(collected.infidelity[m]).mean())
        sensitivity = float(np.concatenate(collected.sensitivity[m]).mean()) if m in collected.sensitivity else None
        label = METHOD_TITLES[m]
        metrics += [
            Metric(
                f"explanations.{m}.deletion_gain",
                area(deletion["random"]) - area(deletion[m]),
                f"Deletion: how much faster {label} order lowers the score than random order",
                "higher",
            ),
            Metric(
                f"explanations.{m}.insertion_gain",
                area(insertion[m]) - area(insertion["random"]),
                f"Insertion: how much faster {label} order raises the score than random order",
                "higher",
            ),
            Metric(f"explanations.{m}.infidelity", infidelity, f"Infidelity (Captum), {label}", "lower"),
        ]
        if not black_box:
            metrics.append(
                Metric(
                    f"explanations.{m}.sensitivity_max",
                    sensitivity,
                    f"Max sensitivity (Captum), {label}",
                    "lower",
                    note="" if sensitivity is not None else CONTINUOUS_ONLY,
                )
            )
        rows.append(
            (
                label,
                area(deletion[m]),
                area(deletion["random"]),
                area(insertion[m]),
                area(insertion["random"]),
                infidelity,
                sensitivity,
            )
        )
    xs = tuple(float(k) for k in range(depth + 1))
    charts: list[Chart] = [
        LineChart(
            title=f"{kind.capitalize()} curves: mean P(favourable) over {collected.curve_rows} rows",
            x_label=f"fields {'replaced by the reference applicant' if kind == 'deletion' else 'restored'}",
            y_label="P(favourable)",
            series=tuple(
                (METHOD_TITLES.get(k, "random order"), xs, tuple(float(v) for v in curves[k]))
                for k in (*methods, "random")
            ),
            dashed=(METHOD_TITLES.get("random", "random order"),),
        )
        for kind, curves in (("deletion", deletion), ("insertion", insertion))
    ]
    return metrics, rows, charts


def _group_findings(
    context: AuditContext,
    attributions: np.ndarray,
    rows: np.ndarray,
    fields: list[str],
    sensitive: list[int],
    method: str,
) -> tuple[list[Metric], BarChart, list[Table]]:
    """Per sensitive group: mean |attribution| per field and the share on sensitive fields."""
    from fmaudit.families.explanations.groups import attribution_by_group

    metrics: list[Metric] = []
    bars: list[Bar] = []
    tables: list[Table] = []
    for attribute, planned in context.plan.attributes.items():
        if attribute not in context.data.sensitive.columns:
            continue
        found = attribution_by_group(attributions, context.data.sensitive[attribute].iloc[rows].tolist(), sensitive)
        present = [g.sensitive_share for g in found.values()]
        gap = max(present) - min(present) if len(present) > 1 else None
        metrics.append(
            Metric(
                f"explanations.by_group.{attribute}.sensitive_share_gap",
                gap,
                f"Largest gap between {attribute} groups in the share of attribution on sensitive fields",
                "lower",
                note="" if gap is not None else "fewer than two groups among the explained rows",
            )
        )
        for group in planned:
            share = found[group].sensitive_share if group in found else None
            metrics.append(
                Metric(
                    f"explanations.by_group.{attribute}.groups.{metric_key(group)}.sensitive_share",
                    share,
                    f"Share of attribution on sensitive fields, {attribute} = {group}",
                    "lower",
                    note="" if share is not None else "no explained row in this group",
                )
            )
        bars += [Bar(f"{attribute}: {g} (n={r.rows})", r.sensitive_share) for g, r in found.items()]
        if attribute not in context.plan.intersections:
            tables.append(
                Table(
                    title=f"Mean |attribution| per field by {attribute} ({METHOD_TITLES[method]})",
                    columns=("Field", *(f"{g} (n={r.rows})" for g, r in found.items())),
                    rows=tuple(
                        (
                            fields[f] + (" (sensitive)" if f in sensitive else ""),
                            *(float(r.mean_abs[f]) for r in found.values()),
                        )
                        for f in range(len(fields))
                    ),
                )
            )
    chart = BarChart(
        title=f"Share of attribution on sensitive fields, by group ({METHOD_TITLES[method]})",
        bars=tuple(bars),
        unit="share",
    )
    return metrics, chart, tables


def highlight(context: AuditContext, row: int, attribution: np.ndarray, batch: FieldInputs, k: int) -> Highlight:
    """Reassemble the original text piece by piece, each token carrying its scaled attribution."""
    assert batch.offsets is not None  # only text batches carry offsets
    text, offsets, mask = context.data.texts[row], batch.offsets[k], batch.extra[0][k].numpy()
    scale = float(np.abs(attribution).max()) or 1.0
    tokens: list[Token] = []
    cursor = 0
    for j in np.flatnonzero(mask):
        start, end = (int(x) for x in offsets[j])
        if end <= start:
            continue
        if start > cursor:
            tokens.append(Token(text[cursor:start], 0.0))
        tokens.append(Token(text[start:end], round(float(attribution[j]) / scale, 4)))
        cursor = end
    if cursor < len(text):
        tokens.append(Token(text[cursor:], 0.0))
    preds = context.predictions
    position = int(np.flatnonzero(preds.row_ids == row)[0])
    label = "favourable" if preds.labels[position] else "unfavourable"
    return Highlight(title=f"Row {row}: score {preds.scores[position]:.3f}, label {label}", tokens=tuple(tokens))
