"""Explanations: field attributions (text and tabular) against the Reg B reference applicant, reason codes,
faithfulness, on synthetic models whose answer is known."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from fmaudit.core.findings import PluginFindings
from fmaudit.data import TEMPLATE_TEXT, PreparedData, field_of_token, serialise, template_fields
from fmaudit.families.explanations.fields import (
    field_model,
    integrated_gradients,
    per_field,
    perturbation_attributions,
)
from fmaudit.families.explanations.plugin import ExplanationsParams, ExplanationsPlugin
from fmaudit.families.explanations.reasons import principal_reasons
from fmaudit.families.explanations.reference import reference_applicant
from fmaudit.models.tabular import TabularClassifier, TabularEncoder
from fmaudit.plugins.base import AuditPlan
from fmaudit.spec import Spec
from tests.support.explanations import (
    HISTORY_WEIGHTS,
    assert_integrated_gradients_complete,
    context_for,
    synthetic_classifier,
    text_field_view,
)
from tests.support.specs import WIDE_TEMPLATE


def table(findings: PluginFindings, title: str) -> Any:
    return next(t for t in findings.tables if t.title.startswith(title))


def metric(findings: PluginFindings, path: str) -> float | None:
    return next(m.value for m in findings.metrics if m.path == path)


def test_tokens_map_to_the_field_whose_value_they_came_from() -> None:
    out = serialise({"purpose": "car (new)", "age": 31}, "purpose: {purpose}; age: {age}")
    start = out.text.index("car")
    assert field_of_token(start, start + 3, out.spans) == "purpose"
    assert field_of_token(0, 7, out.spans) == TEMPLATE_TEXT
    age = out.text.index("31")
    assert field_of_token(age, age + 2, out.spans) == "age"


def test_the_one_field_the_model_reads_is_the_top_reason_of_every_adverse_decision(
    wide_spec: Spec, wide_data: PreparedData, tmp_path: Path
) -> None:
    classifier = synthetic_classifier(wide_data, {"credit_history": HISTORY_WEIGHTS})
    context = context_for(wide_spec, wide_data, classifier, tmp_path)
    params = ExplanationsParams(samples=30, chunk_size=60, reasons={"credit_history": "Credit history"})
    findings = ExplanationsPlugin().run(context, params)

    adverse = int((context.predictions.decisions == 0).sum())
    assert adverse >= 10
    notices = table(findings, "Adverse-action notices").rows
    assert len(notices) == adverse  # every adverse decision, not a sample
    assert all(row[2] == "Credit history" and row[3] == "" and row[-2] == "passes" for row in notices)
    assert table(findings, "How often each reason is given").rows == (
        ("Credit history", "credit_history", adverse, 1.0),
    )
    assert metric(findings, "explanations.notices.adverse_decisions") == adverse
    assert metric(findings, "explanations.notices.produced") == adverse
    assert metric(findings, "explanations.notices.missing_reason_share") == 0.0
    assert metric(findings, "explanations.notices.unfaithful_share") == 0.0
    assert metric(findings, "explanations.notices.unexplained_share") == 0.0  # the reference history approves
    for method in ("integrated_gradients", "feature_ablation"):
        assert metric(findings, f"explanations.{method}.deletion_gain") > 0.05  # type: ignore[operator]
        assert metric(findings, f"explanations.{method}.insertion_gain") > 0.05  # type: ignore[operator]
    assert metric(findings, "explanations.sensitive_share") == 0.0
    # A linear-logit model in one field: every method gives that field all the attribution, fields agree exactly.
    importance = findings.charts[0]
    assert importance.bars[0].label == "credit_history" and importance.bars[0].value == pytest.approx(1.0)  # type: ignore[union-attr]


def test_convergence_deltas_are_the_completeness_gaps_of_captums_integrated_gradients(
    wide_spec: Spec, wide_data: PreparedData, tmp_path: Path
) -> None:
    """mean |δ| and max |δ| over the sampled rows (here every test row, in three chunks), where
    δ = Σ attributions − (F(row) − F(reference applicant)) from Captum's IntegratedGradients called here."""
    from captum.attr import IntegratedGradients

    classifier = synthetic_classifier(wide_data, {"credit_history": HISTORY_WEIGHTS, "duration_in_month": -1.5})
    context = context_for(wide_spec, wide_data, classifier, tmp_path)
    rows = context.predictions.row_ids
    params = ExplanationsParams(samples=len(rows), chunk_size=25, n_steps=4, notices=2)
    findings = ExplanationsPlugin().run(context, params)

    fields = list(template_fields(wide_spec.data.template))
    reference = reference_applicant(
        wide_data.frame.iloc[rows][fields].reset_index(drop=True),
        context.predictions.scores,
        threshold=0.5,
        basis=params.baseline,
        band=params.threshold_band,
    )
    explained = field_model(
        classifier, wide_data, fields=fields, reference=reference.record, template=wide_spec.data.template
    )
    batch = explained.build(np.sort(rows))
    attributions = IntegratedGradients(explained.forward).attribute(batch.inputs, baselines=batch.baselines, n_steps=4)
    with torch.no_grad():
        gaps = explained.forward(batch.inputs) - explained.forward(batch.baselines)
    deltas = (attributions.detach().sum(dim=1) - gaps).abs().numpy().astype(np.float64)
    assert deltas.max() > 1e-3 and deltas.max() > 2 * deltas.mean()  # 4 steps are far from exact, unevenly so
    assert metric(findings, "explanations.convergence_delta.mean_abs") == pytest.approx(deltas.mean(), rel=1e-4)
    assert metric(findings, "explanations.convergence_delta.max_abs") == pytest.approx(deltas.max(), rel=1e-4)


def test_sensitive_fields_are_never_reasons_but_are_flagged(
    wide_spec: Spec, wide_data: PreparedData, tmp_path: Path
) -> None:
    """A model that leans on age: age never appears as a reason; the notices where it would have are flagged."""
    classifier = synthetic_classifier(wide_data, {"credit_history": HISTORY_WEIGHTS, "age_in_years": 2.5})
    context = context_for(wide_spec, wide_data, classifier, tmp_path)
    findings = ExplanationsPlugin().run(context, ExplanationsParams(samples=30, chunk_size=60))

    sensitive = {"age_in_years", "personal_status_and_sex"}
    reasons = table(findings, "How often each reason is given").rows
    assert reasons and not {row[1] for row in reasons} & sensitive
    notices = table(findings, "Adverse-action notices").rows
    assert len(notices) == int((context.predictions.decisions == 0).sum())
    assert any(row[-1] == "age_in_years" for row in notices)
    for group_table in (t for t in findings.tables if t.title.startswith("Principal reasons by ")):
        assert not any(s in str(cell) for row in group_table.rows for cell in row[3:] for s in ("Age", "age_in"))
    assert metric(findings, "explanations.notices.sensitive_flagged_share") > 0  # type: ignore[operator]
    # Denials the model bases on age cannot be reversed by the reasons a notice may give.
    assert metric(findings, "explanations.notices.unexplained_share") > 0  # type: ignore[operator]
    assert findings.summary.startswith("WARNING: a sensitive attribute (age_in_years)")
    assert metric(findings, "explanations.sensitive_share") > 0.1  # type: ignore[operator]
    by_age = metric(findings, "explanations.by_group.age_group.sensitive_share_gap")
    assert by_age is not None and by_age > 0.01  # the model leans on age more for some age groups than others


def test_reason_codes_are_deterministic_under_a_seed(wide_spec: Spec, wide_data: PreparedData, tmp_path: Path) -> None:
    classifier = synthetic_classifier(wide_data, {"credit_history": HISTORY_WEIGHTS, "duration_in_month": -1.0})
    context = context_for(wide_spec, wide_data, classifier, tmp_path)
    params = ExplanationsParams(
        samples=10, notices=8, seed=3, perturbation="shapley_value_sampling", shapley_samples=2, sensitivity_samples=3
    )
    first, second = (ExplanationsPlugin().run(context, params) for _ in range(2))
    assert first.tables == second.tables and first.metrics == second.metrics
    other = ExplanationsPlugin().run(context, params.model_copy(update={"seed": 4}))
    assert table(other, "Adverse-action notices").rows != table(first, "Adverse-action notices").rows


def test_one_hot_attributions_summed_per_column_equal_the_column_attribution(
    wide_spec: Spec, wide_data: PreparedData
) -> None:
    """IG: Captum's per-feature attributions summed over each one-hot group are the column's attribution, and the
    columns add up to f(x) - f(reference). Feature ablation: a column's attribution is the score change when
    that raw column takes the reference applicant's value."""
    from captum.attr import IntegratedGradients

    torch.manual_seed(0)
    fields = template_fields(WIDE_TEMPLATE)
    encoder = TabularEncoder.fit(wide_data.frame.iloc[wide_data.train_idx][fields])
    mlp = torch.nn.Sequential(torch.nn.Linear(len(encoder.feature_columns), 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    classifier = TabularClassifier(mlp, encoder, hidden=[8])
    rows = wide_data.test_idx[:6]
    reference = reference_applicant(
        wide_data.frame.iloc[wide_data.test_idx][fields].reset_index(drop=True),
        classifier.predict_rows(wide_data, wide_data.test_idx),
        threshold=0.5,
        basis="all",
        band=0.2,
    ).record
    explained = field_model(classifier, wide_data, fields=fields, reference=reference, template=WIDE_TEMPLATE)
    batch = explained.build(rows)

    positions, deltas = integrated_gradients(explained, batch, n_steps=64, internal_batch_size=None)
    columns = per_field(positions, batch.field_mask.numpy(), len(fields), reduce="sum")
    features = IntegratedGradients(classifier.favourable_probability).attribute(
        batch.inputs, baselines=batch.baselines, n_steps=64
    )
    by_column = pd.DataFrame(features.detach().numpy().T).groupby(np.array(encoder.feature_columns)).sum()
    assert np.allclose(columns, by_column.loc[fields].to_numpy().T, atol=1e-6)
    assert any(c.kind == "categorical" and c.width > 2 for c in encoder.columns)  # real one-hot groups were summed
    gap = classifier.predict_rows(wide_data, rows) - classifier.predict_records([reference], template="")[0]
    assert np.allclose(columns.sum(axis=1), gap - deltas, atol=1e-5)  # field sums keep the whole attribution
    assert np.abs(deltas).max() < 0.01 * np.abs(gap).max()  # and IG is complete: the gap is explained

    ablation = perturbation_attributions(explained, batch, method="feature_ablation", shapley_samples=1, seeds=[])
    records = wide_data.frame.iloc[rows].to_dict("records")
    for k, column in enumerate(fields):
        changed = classifier.predict_records([{**r, column: reference[column]} for r in records], template="")
        assert np.allclose(ablation[:, k], classifier.predict_records(records, template="") - changed, atol=1e-6)


def test_text_baseline_is_the_reference_applicant_aligned_to_each_row(
    tiny_bert: Path, spec_dict: dict[str, Any], tmp_path: Path
) -> None:
    """Template tokens are shared; each field's tokens hold the reference value, cut or [PAD]-filled to length."""
    explained, batch, fields, classifier = text_field_view(tiny_bert, spec_dict, tmp_path)
    tokenizer = classifier.tokenizer
    assert batch.baselines.shape == batch.inputs.shape
    outside = batch.field_mask == len(fields)
    assert torch.equal(batch.baselines[outside], batch.inputs[outside])
    history = fields.index("credit_history")
    wanted = tokenizer("delay in paying off in the past", add_special_tokens=False)["input_ids"]
    for k in range(len(batch.inputs)):
        placed = batch.baselines[k][batch.field_mask[k] == history].tolist()
        expected = (wanted + [tokenizer.pad_token_id] * len(placed))[: len(placed)]
        assert placed == expected

    # Integrated Gradients is complete against this baseline, and only field tokens carry attribution.
    assert_integrated_gradients_complete(explained, batch, outside)


def test_principal_reasons_are_at_most_four_push_toward_denial_and_skip_sensitive_fields() -> None:
    attributions = np.array([-0.3, 0.2, -0.1, -0.5, -0.0005, -0.2, -0.05, -0.4])
    found = principal_reasons(attributions, sensitive=[3], min_contribution=0.001)
    assert found.reasons == (7, 0, 5, 2)
    assert found.contributions == (-0.4, -0.3, -0.2, -0.1)
    assert found.sensitive == (3,)
    assert principal_reasons(np.array([0.1, 0.2]), sensitive=[]).reasons == ()
    # A sensitive field outside the top four is not flagged.
    assert principal_reasons(attributions, sensitive=[6], max_reasons=2).sensitive == ()


def test_reference_applicant_follows_regulation_b() -> None:
    frame = pd.DataFrame({"amount": [100, 200, 300, 400, 1000], "history": ["bad", "good", "good", "ok", "ok"]})
    scores = np.array([0.1, 0.55, 0.6, 0.9, 0.95])
    approved = reference_applicant(frame, scores, threshold=0.5, basis="approved", band=0.2)
    assert approved.record == {"amount": 475, "history": "good"} and approved.rows == 4  # tie good/ok: by name
    near = reference_applicant(frame, scores, threshold=0.5, basis="threshold", band=0.5)
    assert near.record == {"amount": 250, "history": "good"} and near.rows == 2
    nobody = reference_applicant(frame, scores, threshold=0.99, basis="approved", band=0.2)
    assert nobody.rows == 5 and "no applicant was approved" in nobody.describe()


def test_reason_map_keys_must_be_non_sensitive_model_fields() -> None:
    plan = AuditPlan(
        attributes={"sex": ["f", "m"]},
        private=False,
        fields=("credit_history", "personal_status_and_sex"),
        sensitive_fields=("personal_status_and_sex",),
    )
    params = ExplanationsParams(reasons={"credit_histroy": "x", "personal_status_and_sex": "y", "credit_history": "z"})
    problems = ExplanationsPlugin().check(params, plan)
    assert len(problems) == 2
    assert problems[0].startswith("reasons.credit_histroy: not a field of the model's input")
    assert problems[1].startswith("reasons.personal_status_and_sex: a sensitive attribute is never given as a reason")


def test_at_most_four_reasons_and_two_integration_steps() -> None:
    with pytest.raises(ValueError, match="max_reasons"):
        ExplanationsParams(max_reasons=5)
    with pytest.raises(ValueError, match="n_steps"):
        ExplanationsParams(n_steps=1)
