"""Running the explanation methods: build the Reg B reference applicant, attribute a seeded sample of rows
a chunk at a time with both methods and every check on each chunk (the global view), give every adverse
decision (or a seeded sample of them) its notice by occlusion (``notices``), its reasons flagged where they
may stand in for a sensitive attribute (``proxies``), and hand the results to ``findings``.

Every random draw comes from a stream keyed by its figure and, where it concerns one row, that row's id
(``fmaudit.core.intervals.stream``): the sample does not depend on ``notices``, and a row's Shapley values,
random orders, infidelity and sensitivity noise and notice-check walks are the same whatever other rows are
explained with it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from fmaudit.core.findings import PluginFindings
from fmaudit.core.intervals import stream, torch_seed
from fmaudit.families.explanations.findings import Collected, explanation_findings, highlight
from fmaudit.families.explanations.params import IG, ExplanationsParams
from fmaudit.families.explanations.proxies import proxy_flags, reason_field_associations
from fmaudit.plugins.context import AuditContext

if TYPE_CHECKING:
    from fmaudit.families.explanations.fields import FieldInputs, FieldModel
    from fmaudit.families.explanations.notices import Notice
    from fmaudit.metrics.association import Association


def methods(params: ExplanationsParams, *, black_box: bool = False) -> tuple[str, ...]:
    """Integrated Gradients and the configured perturbation method, in that order; the perturbation method
    alone for a model scored as a black box (a skops or ONNX pipeline: no gradients)."""
    return (params.perturbation,) if black_box else (IG, params.perturbation)


def explain(context: AuditContext, params: ExplanationsParams, *, name: str, title: str) -> PluginFindings:
    """The explanations section for the context's model."""
    from fmaudit.data import template_fields
    from fmaudit.families.explanations.fields import field_model
    from fmaudit.families.explanations.reference import reference_applicant

    spec, data, preds = context.spec, context.data, context.predictions
    fields = list(context.plan.fields or template_fields(spec.data.template))
    sensitive_columns = {s.column for s in spec.data.sensitive.values()}
    sensitive = [k for k, f in enumerate(fields) if f in sensitive_columns]
    sample = _draw(preds.row_ids, params.samples, stream(params.seed, "explanations.sample"))
    reference = reference_applicant(
        data.frame.iloc[preds.row_ids][fields].reset_index(drop=True),
        preds.scores,
        threshold=preds.threshold,
        basis=params.baseline,
        band=params.threshold_band,
    )
    explained = field_model(context.model, data, fields=fields, reference=reference.record, template=spec.data.template)
    collected = _collect(context, explained, params, sample=sample)
    collected.associations = reason_field_associations(context, fields, sensitive)
    collected.notices = _notices(
        context,
        params,
        reference.record,
        fields=fields,
        sensitive=sensitive,
        proxies=proxy_flags(collected.associations, fields, threshold=params.proxy_threshold),
    )
    return explanation_findings(
        context,
        params,
        collected,
        fields=fields,
        sensitive=sensitive,
        reference=reference,
        methods=methods(params, black_box=explained.black_box),
        black_box=explained.black_box,
        title=title,
        name=name,
    )


def _draw(rows: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A sorted sample of ``size`` of ``rows`` without replacement (all of them if fewer): the first ``size`` of
    one seeded shuffle, so a larger sample keeps every row of a smaller one."""
    return np.sort(rng.permutation(rows)[:size])


def _notices(
    context: AuditContext,
    params: ExplanationsParams,
    reference: dict[str, object],
    *,
    fields: list[str],
    sensitive: list[int],
    proxies: dict[int, tuple[Association, ...]],
) -> list[Notice]:
    """A notice for every adverse decision of the test split, or for a seeded sample of ``params.notices``;
    ``proxies`` maps a field index to its associations above the proxy threshold."""
    from tqdm.auto import tqdm

    from fmaudit.families.explanations.notices import NoticeSettings, adverse_notices

    preds = context.predictions
    adverse = preds.row_ids[preds.decisions == 0]
    chosen = (
        adverse
        if params.notices == "all"
        else _draw(adverse, params.notices, stream(params.seed, "explanations.notices"))
    )
    position = {int(row): k for k, row in enumerate(preds.row_ids)}
    scores = [float(preds.scores[position[int(row)]]) for row in chosen]
    records = context.data.frame.iloc[chosen].to_dict("records")
    settings = NoticeSettings(
        sensitive=tuple(sensitive),
        max_reasons=params.max_reasons,
        min_contribution=params.min_contribution,
        shapley_orders=params.notice_shapley_orders,
        seed=params.seed,
        proxies=proxies,
    )
    started = time.perf_counter()
    with tqdm(desc="notices", unit="record", disable=not context.show_progress) as bar:
        notices = adverse_notices(
            context.model,
            records,
            chosen.tolist(),
            scores,
            reference,
            fields,
            settings,
            template=context.spec.data.template,
            progress=bar,
        )
    context.say(
        f"explanations: notices for {len(notices)} of {len(adverse)} adverse decisions in "
        f"{time.perf_counter() - started:.1f} s ({bar.n} records scored)"
    )
    return notices


def _collect(
    context: AuditContext, explained: FieldModel, params: ExplanationsParams, *, sample: np.ndarray
) -> Collected:
    """Attribute the sampled rows a chunk at a time, running every check on each chunk."""
    from tqdm.auto import tqdm

    from fmaudit.families.explanations.fields import integrated_gradients, per_field, perturbation_attributions

    chosen = methods(params, black_box=explained.black_box)
    collected = Collected(attributions={m: [] for m in chosen})
    chunks = [sample[i : i + params.chunk_size] for i in range(0, len(sample), params.chunk_size)]
    context.say(f"explanations: {len(sample)} sampled rows, {' and '.join(chosen)}")
    for chunk in tqdm(chunks, desc="explanations", unit="chunk", disable=not context.show_progress):
        batch = explained.build(chunk)
        by_method: dict[str, np.ndarray] = {}
        if IG in chosen:
            positions, deltas = integrated_gradients(
                explained, batch, n_steps=params.n_steps, internal_batch_size=params.internal_batch_size
            )
            by_method[IG] = per_field(positions, batch.field_mask.numpy(), len(batch.fields), reduce="sum")
            collected.deltas.append(deltas)
            for k, row in enumerate(chunk):
                if batch.offsets is not None and len(collected.highlights) < params.examples:
                    collected.highlights.append(highlight(context, int(row), positions[k], batch, k))
        by_method[params.perturbation] = perturbation_attributions(
            explained,
            batch,
            method=params.perturbation,
            shapley_samples=params.shapley_samples,
            seeds=[torch_seed(params.seed, "explanations.shapley", int(row)) for row in chunk],
        )
        collected.rows += chunk.tolist()
        for method in chosen:
            collected.attributions[method].append(by_method[method])
        _faithfulness(explained, batch, chunk, by_method, params, collected)
    return collected


INFIDELITY_DROP = 0.3
"""Probability that Captum's infidelity perturbation sets a field to the reference applicant's value."""
SENSITIVITY_RADIUS = 0.02
"""Captum's default noise radius for sensitivity_max, on standardised / one-hot features."""


def _faithfulness(
    explained: FieldModel,
    batch: FieldInputs,
    rows: np.ndarray,
    attributions: dict[str, np.ndarray],
    params: ExplanationsParams,
    collected: Collected,
) -> None:
    """Deletion / insertion curves against random orders, infidelity and (continuous inputs) sensitivity, for
    the batch's ``rows`` (their row ids key their random draws)."""
    from fmaudit.families.explanations.faithfulness import field_infidelity, order_curves, sensitivity

    n_rows, n_fields = len(batch.inputs), len(batch.fields)
    depth = min(params.curve_depth or n_fields, n_fields)
    orders = {m: np.argsort(-a, axis=1, kind="stable") for m, a in attributions.items()}
    drawn = [stream(params.seed, "explanations.random_orders", int(row)) for row in rows]
    per_row = np.array([[rng.permutation(n_fields) for _ in range(params.random_orders)] for rng in drawn])
    randoms = {f"random {r}": per_row[:, r].reshape(n_rows, n_fields) for r in range(params.random_orders)}
    deletion, insertion = order_curves(explained, batch, np.arange(n_rows), orders | randoms, depth=depth)
    for curves, target in ((deletion, collected.deletion), (insertion, collected.insertion)):
        for name, summed in curves.items():
            key, weight = ("random", 1 / params.random_orders) if name in randoms else (name, 1.0)
            target[key] = target.get(key, np.zeros(depth + 1)) + weight * summed
    collected.curve_rows += n_rows
    # One seed per row for every method: they are compared on the same perturbations.
    infidelity_seeds = [torch_seed(params.seed, "explanations.infidelity", int(row)) for row in rows]
    sensitivity_seeds = [torch_seed(params.seed, "explanations.sensitivity", int(row)) for row in rows]
    for method, values in attributions.items():
        infidelity = field_infidelity(
            explained,
            batch,
            values,
            samples=params.infidelity_samples,
            drop_probability=INFIDELITY_DROP,
            seeds=infidelity_seeds,
        )
        collected.infidelity.setdefault(method, []).append(infidelity)
        if explained.layer is None and not explained.black_box:  # sensitivity_max needs continuous inputs
            change = sensitivity(
                explained,
                batch,
                method,
                n_steps=params.n_steps,
                shapley_samples=params.shapley_samples,
                samples=params.sensitivity_samples,
                radius=SENSITIVITY_RADIUS,
                seeds=sensitivity_seeds,
            )
            collected.sensitivity.setdefault(method, []).append(change)
