"""Explanations a credit reviewer can act on, through Captum: field-level attributions by two
methods (Integrated Gradients and a perturbation method) against the Reg B reference
applicant, adverse-action reason codes, faithfulness checks, and attribution by group.

Works for text models (Layer Integrated Gradients on the input embeddings, tokens
mapped to the template's fields by character offsets) and tabular models
(Integrated Gradients on the encoded features, one-hot groups summed back to their
column). See ``fmaudit.explanations`` for the methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from fmaudit.explanations.fields import Perturbation
from fmaudit.explanations.reference import Basis
from fmaudit.findings import (
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
from fmaudit.plugins.base import AuditContext, AuditPlan, AuditPlugin, PluginParams

if TYPE_CHECKING:
    from fmaudit.explanations.fields import FieldInputs, FieldModel
    from fmaudit.explanations.reasons import ReasonSet
    from fmaudit.explanations.reference import ReferenceApplicant

IG = "integrated_gradients"
METHOD_TITLES = {
    IG: "Integrated Gradients",
    "feature_ablation": "Feature ablation",
    "shapley_value_sampling": "Shapley value sampling",
}
FAITHFULNESS = ("deletion_gain", "insertion_gain", "infidelity", "sensitivity_max")
REASON_FIGURES = ("notices", "coverage", "mean_reasons", "reliable_share", "sensitive_flagged_share")
SHOWN_NOTICES = 10


class ExplanationsParams(PluginParams):
    samples: int = Field(12, ge=1, description="seeded sample of test rows for importance, groups and faithfulness")
    notices: int = Field(12, ge=0, description="seeded sample of adverse decisions given reason codes (all if fewer)")
    n_steps: int = Field(32, ge=2, description="integration steps of Integrated Gradients")
    internal_batch_size: int = Field(64, ge=1, description="interpolation steps evaluated per forward pass")
    chunk_size: int = Field(4, ge=1, description="rows attributed together (memory grows with it)")
    perturbation: Perturbation = Field("feature_ablation", description="the second, perturbation-based method")
    shapley_samples: int = Field(8, ge=1, description="permutations per row for shapley_value_sampling")
    reason_method: Literal["integrated_gradients", "perturbation"] = Field(
        "integrated_gradients", description="which method's attributions give the reason codes"
    )
    baseline: Basis = Field(
        "approved",
        description="reference applicant (Reg B): the average 'approved' applicant, those at or just above the "
        "'threshold', or 'all' applicants",
    )
    threshold_band: float = Field(
        0.2, gt=0, le=1, description="baseline 'threshold': this share of approved applicants closest above it"
    )
    reasons: dict[str, str] = Field(default_factory=dict, description="field -> human-readable reason")
    max_reasons: int = Field(4, ge=1, le=4, description="principal reasons per notice (Reg B: at most four)")
    min_contribution: float = Field(
        0.001, ge=0, description="smallest push toward denial, in P(favourable), that counts as a reason"
    )
    random_orders: int = Field(3, ge=1, description="random orders / field sets compared with each attribution")
    curve_depth: int | None = Field(None, ge=1, description="fields deleted / inserted along the curves (all)")
    infidelity_samples: int = Field(10, ge=1, description="random field sets per row for Captum's infidelity")
    sensitivity_samples: int = Field(10, ge=1, description="noisy copies per row for Captum's sensitivity_max")
    seed: int = 0
    examples: int = Field(3, ge=0, description="highlighted example texts shown in the report")


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
    notices: list[tuple[int, ReasonSet, float | None, float | None]] = field(default_factory=list)
    highlights: list[Highlight] = field(default_factory=list)


class ExplanationsPlugin(AuditPlugin[ExplanationsParams]):
    name = "explanations"
    title = "Explanations and reason codes"
    Params = ExplanationsParams

    def methods(self, params: ExplanationsParams) -> tuple[str, str]:
        return IG, params.perturbation

    def check(self, params: ExplanationsParams, plan: AuditPlan) -> list[str]:
        problems = []
        for key in params.reasons:
            if plan.fields and key not in plan.fields:
                problems.append(
                    f"reasons.{key}: not a field of the model's input; expected one of: {', '.join(plan.fields)}"
                )
            elif key in plan.sensitive_fields:
                problems.append(
                    f"reasons.{key}: a sensitive attribute is never given as a reason (Reg B); remove it "
                    "(the report flags notices where it would have been one)"
                )
        return problems

    def metric_paths(self, params: ExplanationsParams, plan: AuditPlan) -> list[str]:
        paths = [
            "explanations.convergence_delta.mean_abs",
            "explanations.convergence_delta.max_abs",
            "explanations.sensitive_share",
            "explanations.method_agreement",
        ]
        paths += [f"explanations.{m}.{f}" for m in self.methods(params) for f in FAITHFULNESS]
        paths += [f"explanations.reasons.{f}" for f in REASON_FIGURES]
        for attribute, groups in plan.attributes.items():
            paths.append(f"explanations.by_group.{attribute}.sensitive_share_gap")
            paths += [f"explanations.by_group.{attribute}.groups.{metric_key(g)}.sensitive_share" for g in groups]
        return paths

    def run(self, context: AuditContext, params: ExplanationsParams) -> PluginFindings:
        from fmaudit.data import template_fields
        from fmaudit.explanations.fields import field_model
        from fmaudit.explanations.reference import reference_applicant

        spec, data, preds = context.spec, context.data, context.predictions
        fields = list(context.plan.fields or template_fields(spec.data.template))
        sensitive_columns = {s.column for s in spec.data.sensitive.values()}
        sensitive = [k for k, f in enumerate(fields) if f in sensitive_columns]
        rng = np.random.default_rng(params.seed)
        sample = np.sort(rng.choice(preds.row_ids, size=min(params.samples, len(preds.row_ids)), replace=False))
        adverse = preds.row_ids[preds.decisions == 0]
        notices = np.sort(rng.choice(adverse, size=min(params.notices, len(adverse)), replace=False))
        reference = reference_applicant(
            data.frame.iloc[preds.row_ids][fields].reset_index(drop=True),
            preds.scores,
            threshold=preds.threshold,
            basis=params.baseline,
            band=params.threshold_band,
        )
        explained = field_model(
            context.model, data, fields=fields, reference=reference.record, template=spec.data.template
        )
        collected = _collect(context, explained, params, sample=sample, notices=notices, sensitive=sensitive, rng=rng)
        return _findings(
            context,
            params,
            collected,
            fields=fields,
            sensitive=sensitive,
            reference=reference,
            sample=sample,
            methods=self.methods(params),
            title=self.title,
            name=self.name,
        )


def _collect(
    context: AuditContext,
    explained: FieldModel,
    params: ExplanationsParams,
    *,
    sample: np.ndarray,
    notices: np.ndarray,
    sensitive: list[int],
    rng: np.random.Generator,
) -> Collected:
    """Attribute the sampled rows and notices a chunk at a time, running every check on each chunk."""
    from tqdm.auto import tqdm

    from fmaudit.explanations.faithfulness import reason_deletion
    from fmaudit.explanations.fields import (
        integrated_gradients,
        per_field,
        perturbation_attributions,
        subset,
    )
    from fmaudit.explanations.reasons import principal_reasons

    rows = np.union1d(sample, notices)
    methods = (IG, params.perturbation)
    reason_method = IG if params.reason_method == IG else params.perturbation
    in_sample, is_notice = set(sample.tolist()), set(notices.tolist())
    collected = Collected(attributions={m: [] for m in methods})
    chunks = [rows[i : i + params.chunk_size] for i in range(0, len(rows), params.chunk_size)]
    context.say(f"explanations: {len(rows)} rows ({len(notices)} adverse decisions), {' and '.join(methods)}")
    for chunk in tqdm(chunks, desc="explanations", unit="chunk", disable=not context.show_progress):
        batch = explained.build(chunk)
        n_fields = len(batch.fields)
        positions, deltas = integrated_gradients(
            explained, batch, n_steps=params.n_steps, internal_batch_size=params.internal_batch_size
        )
        by_method = {
            IG: per_field(positions, batch.field_mask.numpy(), n_fields, reduce="sum"),
            params.perturbation: perturbation_attributions(
                explained, batch, method=params.perturbation, shapley_samples=params.shapley_samples, seed=params.seed
            ),
        }
        collected.rows += chunk.tolist()
        collected.deltas.append(deltas)
        for method in methods:
            collected.attributions[method].append(by_method[method])

        local = np.array([k for k, row in enumerate(chunk) if row in in_sample], dtype=int)
        if len(local):
            _faithfulness(
                explained, subset(batch, local), {m: a[local] for m, a in by_method.items()}, params, collected, rng
            )
        for k, row in enumerate(chunk):
            if batch.offsets is not None and row in in_sample and len(collected.highlights) < params.examples:
                collected.highlights.append(_highlight(context, int(row), positions[k], batch, k))
            if row not in is_notice:
                continue
            reason_set = principal_reasons(
                by_method[reason_method][k],
                sensitive=sensitive,
                max_reasons=params.max_reasons,
                min_contribution=params.min_contribution,
            )
            gain = random_gain = None
            if reason_set.reasons:
                candidates = [f for f in range(n_fields) if f not in sensitive]
                gain, random_gain = reason_deletion(
                    explained, batch, k, list(reason_set.reasons), candidates, random_sets=params.random_orders, rng=rng
                )
            collected.notices.append((int(row), reason_set, gain, random_gain))
    return collected


INFIDELITY_DROP = 0.3
"""Probability that Captum's infidelity perturbation sets a field to the reference applicant's value."""
SENSITIVITY_RADIUS = 0.02
"""Captum's default noise radius for sensitivity_max, on standardised / one-hot features."""


def _faithfulness(
    explained: FieldModel,
    batch: FieldInputs,
    attributions: dict[str, np.ndarray],
    params: ExplanationsParams,
    collected: Collected,
    rng: np.random.Generator,
) -> None:
    """Deletion / insertion curves against random orders, infidelity and (continuous inputs) sensitivity."""
    from fmaudit.explanations.faithfulness import field_infidelity, order_curves, sensitivity

    n_rows, n_fields = len(batch.inputs), len(batch.fields)
    depth = min(params.curve_depth or n_fields, n_fields)
    orders = {m: np.argsort(-a, axis=1, kind="stable") for m, a in attributions.items()}
    randoms = {
        f"random {r}": np.array([rng.permutation(n_fields) for _ in range(n_rows)]) for r in range(params.random_orders)
    }
    deletion, insertion = order_curves(explained, batch, np.arange(n_rows), orders | randoms, depth=depth)
    for curves, target in ((deletion, collected.deletion), (insertion, collected.insertion)):
        for name, summed in curves.items():
            key, weight = ("random", 1 / params.random_orders) if name in randoms else (name, 1.0)
            target[key] = target.get(key, np.zeros(depth + 1)) + weight * summed
    collected.curve_rows += n_rows
    for method, values in attributions.items():
        infidelity = field_infidelity(
            explained,
            batch,
            values,
            samples=params.infidelity_samples,
            drop_probability=INFIDELITY_DROP,
            seed=params.seed,
        )
        collected.infidelity.setdefault(method, []).append(infidelity)
        if explained.layer is None:  # sensitivity_max needs continuous inputs
            change = sensitivity(
                explained,
                batch,
                method,
                n_steps=params.n_steps,
                shapley_samples=params.shapley_samples,
                samples=params.sensitivity_samples,
                radius=SENSITIVITY_RADIUS,
                seed=params.seed,
            )
            collected.sensitivity.setdefault(method, []).append(change)


def _findings(
    context: AuditContext,
    params: ExplanationsParams,
    collected: Collected,
    *,
    fields: list[str],
    sensitive: list[int],
    reference: ReferenceApplicant,
    sample: np.ndarray,
    methods: tuple[str, str],
    title: str,
    name: str,
) -> PluginFindings:
    from scipy.stats import spearmanr

    from fmaudit.explanations.groups import mean_shares

    rows = np.array(collected.rows)
    in_sample = np.isin(rows, sample)
    attributions = {m: np.concatenate(parts) for m, parts in collected.attributions.items()}
    primary = IG if params.reason_method == IG else params.perturbation
    shares = {m: mean_shares(a[in_sample]) for m, a in attributions.items()}
    sensitive_share = float(shares[IG][sensitive].sum())
    agreement = finite(spearmanr(shares[methods[0]], shares[methods[1]]).statistic) if len(fields) > 2 else None
    deltas = np.abs(np.concatenate(collected.deltas))

    metrics = [
        Metric(
            "explanations.convergence_delta.mean_abs", float(deltas.mean()), "IG convergence delta, mean |δ|", "lower"
        ),
        Metric("explanations.convergence_delta.max_abs", float(deltas.max()), "IG convergence delta, max |δ|", "lower"),
        Metric("explanations.sensitive_share", sensitive_share, "Share of IG attribution on sensitive fields", "lower"),
        Metric(
            "explanations.method_agreement",
            agreement,
            f"Rank agreement of global field importance, IG vs {METHOD_TITLES[methods[1]]} (Spearman)",
            "higher",
            note="" if agreement is not None else "undefined: a method gave every field the same importance",
        ),
    ]
    faithfulness_metrics, faithfulness_rows, curve_charts = _faithfulness_findings(collected, methods)
    metrics += faithfulness_metrics
    reason_metrics, reason_tables, reason_chart, flagged = _reason_findings(context, params, collected, fields)
    metrics += reason_metrics
    group_metrics, group_chart, group_tables = _group_findings(
        context, attributions[primary][in_sample], rows[in_sample], fields, sensitive, primary
    )
    metrics += group_metrics

    importance_charts: list[Chart] = [
        BarChart(
            title=f"Global field importance, {METHOD_TITLES[m]} "
            f"(mean share of |attribution|, {int(in_sample.sum())} rows)",
            bars=tuple(
                Bar(fields[f], float(shares[m][f]), "sensitive" if f in sensitive else "")
                for f in np.argsort(-shares[m], kind="stable")
            ),
            unit="share",
        )
        for m in methods
    ]
    tables = [
        *reason_tables,
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
    n_notices = len(collected.notices)
    coverage = next(m.value for m in reason_metrics if m.path.endswith("coverage"))
    top_reason = reason_tables[1].rows[0][0] if reason_tables[1].rows else "none"
    summary = (
        (
            f"WARNING: a sensitive attribute ({flagged}) would have been a principal reason for "
            f"{next(m.value for m in reason_metrics if m.path.endswith('sensitive_flagged_share')):.0%} of adverse "
            "decisions; it is never given as a reason, but the model relies on it. "
            if flagged
            else ""
        )
        + f"Reason codes for {n_notices} adverse decision{'' if n_notices == 1 else 's'} "
        + (f"(coverage {coverage:.0%}; most frequent reason: '{top_reason}'). " if coverage is not None else ". ")
        + f"Integrated Gradients ({params.n_steps} steps) and {METHOD_TITLES[methods[1]].lower()} against "
        f"{reference.describe()}; sensitive fields carry {sensitive_share:.1%} of IG attribution; "
        f"mean |convergence delta| {deltas.mean():.4f}."
    )
    return PluginFindings(
        plugin=name,
        title=title,
        summary=summary,
        metrics=tuple(metrics),
        charts=(*importance_charts, *([reason_chart] if reason_chart else []), *curve_charts, group_chart),
        tables=tuple(tables),
        highlights=tuple(collected.highlights),
        notes=(
            f"Baseline (Reg B, 12 CFR 1002.9(b)(2), comment 9(b)(2)-5): {reference.describe()}. Attributions "
            "explain P(favourable) relative to that applicant: negative pushes toward denial.",
            "Reason codes: the up to "
            f"{params.max_reasons} fields pushing furthest toward denial ({METHOD_TITLES[primary]}), sensitive "
            "attributes excluded; a reason set whose deletion raises the score no more than random fields is "
            "marked unreliable.",
            "Text: each field's reference value is placed where the applicant's value is, truncated or padded with "
            "[PAD] to the same number of tokens; template text is identical in both and carries no attribution. "
            "Highlights: green pushes toward the favourable decision, red away from it.",
        ),
    )


def _faithfulness_findings(
    collected: Collected, methods: tuple[str, str]
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
            Metric(
                f"explanations.{m}.sensitivity_max",
                sensitivity,
                f"Max sensitivity (Captum), {label}",
                "lower",
                note="" if sensitivity is not None else "applies to continuous inputs; a text model reads token ids",
            ),
        ]
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
        )
        for kind, curves in (("deletion", deletion), ("insertion", insertion))
    ]
    return metrics, rows, charts


def _reason_findings(
    context: AuditContext, params: ExplanationsParams, collected: Collected, fields: list[str]
) -> tuple[list[Metric], list[Table], BarChart | None, str]:
    """Reason-code metrics, the sample notices table, the reason distribution, and the flagged sensitive fields."""
    from fmaudit.explanations.reasons import reason_distribution, reason_text

    notices = collected.notices
    n = len(notices)
    sets = [reason_set for _, reason_set, _, _ in notices]
    checked = [(gain, random) for _, s, gain, random in notices if gain is not None and random is not None]
    flagged_fields = sorted({fields[f] for s in sets for f in s.sensitive})
    values = {
        "notices": float(n),
        "coverage": float(np.mean([bool(s.reasons) for s in sets])) if n else None,
        "mean_reasons": float(np.mean([len(s.reasons) for s in sets])) if n else None,
        "reliable_share": float(np.mean([g > r for g, r in checked])) if checked else None,
        "sensitive_flagged_share": float(np.mean([bool(s.sensitive) for s in sets])) if n else None,
    }
    labels = {
        "notices": ("Adverse decisions given reason codes", "none"),
        "coverage": ("Share of adverse decisions with at least one reason", "higher"),
        "mean_reasons": ("Mean number of reasons per notice", "none"),
        "reliable_share": ("Share of reason sets whose deletion beats random fields", "higher"),
        "sensitive_flagged_share": ("Share of notices where a sensitive attribute would have been a reason", "lower"),
    }
    metrics = [
        Metric(
            f"explanations.reasons.{f}",
            values[f],
            labels[f][0],
            labels[f][1],  # type: ignore[arg-type]
            note="" if values[f] is not None else "no adverse decision in the sample, or none with a reason",
        )
        for f in REASON_FIGURES
    ]
    scores = dict(zip(context.predictions.row_ids.tolist(), context.predictions.scores.tolist(), strict=True))
    shown = sorted(notices, key=lambda notice: (not notice[1].sensitive, notice[0]))[:SHOWN_NOTICES]
    notice_rows = []
    for row, reason_set, gain, random in shown:
        reasons = [reason_text(fields[f], params.reasons) for f in reason_set.reasons]
        check = "no reason" if gain is None else ("reliable" if random is not None and gain > random else "UNRELIABLE")
        notice_rows.append(
            (
                row,
                "denied",
                scores[row],
                *(reasons + [""] * (params.max_reasons - len(reasons))),
                gain,
                random,
                check,
                ", ".join(fields[f] for f in reason_set.sensitive),
            )
        )
    distribution = reason_distribution(sets, fields)
    tables = [
        Table(
            title=f"Sample adverse-action notices ({len(shown)} of {n}; flagged notices first)",
            columns=(
                "Row",
                "Decision",
                "P(favourable)",
                *(f"Reason {i + 1}" for i in range(params.max_reasons)),
                "Score rise, reasons deleted",
                "Score rise, random fields",
                "Check",
                "Sensitive attribute that would have been a reason",
            ),
            rows=tuple(notice_rows),
            note="Deleting a reason gives the field the reference applicant's value. Unmapped fields show their "
            "column name; add them to audits.explanations.reasons.",
        ),
        Table(
            title="How often each reason is given",
            columns=("Reason", "Field", "Notices", "Share of notices"),
            rows=tuple((reason_text(f, params.reasons), f, count, share) for f, count, share in distribution),
        ),
    ]
    chart = (
        BarChart(
            title=f"Reasons given, share of {n} adverse-action notices",
            bars=tuple(Bar(reason_text(f, params.reasons), share) for f, _, share in distribution),
            unit="share",
        )
        if distribution
        else None
    )
    return metrics, tables, chart, ", ".join(flagged_fields)


def _group_findings(
    context: AuditContext,
    attributions: np.ndarray,
    rows: np.ndarray,
    fields: list[str],
    sensitive: list[int],
    method: str,
) -> tuple[list[Metric], BarChart, list[Table]]:
    """Per sensitive group: mean |attribution| per field and the share on sensitive fields."""
    from fmaudit.explanations.groups import attribution_by_group

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


def _highlight(context: AuditContext, row: int, attribution: np.ndarray, batch: FieldInputs, k: int) -> Highlight:
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
