"""Explanations of a tabular model trained elsewhere (a scikit-learn pipeline from a skops or ONNX file): the
perturbation methods on 0/1 field indicators give exactly the score changes computed by hand, a skops file and its
ONNX twin are explained alike, and the plugin produces what it declares, saying what it cannot compute."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from fmaudit.data import PreparedData, template_fields
from fmaudit.families.explanations.fields import (
    field_model,
    integrated_gradients,
    perturbation_attributions,
    scores_with_fields,
)
from fmaudit.families.explanations.findings import BLACK_BOX_SKIPPED
from fmaudit.families.explanations.plugin import ExplanationsParams, ExplanationsPlugin
from fmaudit.families.explanations.reference import reference_applicant
from fmaudit.models.pipelines import PipelineClassifier, load_onnx, load_skops
from fmaudit.plugins.base import AuditContext, AuditPlan
from fmaudit.spec import Spec
from fmaudit.testing import check_plugin
from tests.support.explanations import context_for
from tests.support.pipelines import column_types, credit_pipeline, save_onnx, save_skops
from tests.support.specs import WIDE_TEMPLATE

FIELDS = template_fields(WIDE_TEMPLATE)


@pytest.fixture
def twins(wide_data: PreparedData, tmp_path: Path) -> tuple[PipelineClassifier, PipelineClassifier]:
    """One fitted pipeline, from its skops file and from its ONNX export."""
    estimator = credit_pipeline(wide_data, FIELDS)
    skops_file = save_skops(estimator, tmp_path / "credit.skops")
    onnx_file = save_onnx(estimator, tmp_path / "credit.onnx", initial_types=column_types(wide_data.frame, FIELDS))
    return (
        load_skops(skops_file, columns=FIELDS, favourable=["good"]),
        load_onnx(onnx_file, columns=FIELDS, favourable=["good"]),
    )


def reference_of(model: PipelineClassifier, data: PreparedData) -> dict[str, object]:
    rows = data.test_idx
    frame = data.frame.iloc[rows][FIELDS].reset_index(drop=True)
    scores = model.predict_rows(data, rows)
    return reference_applicant(frame, scores, threshold=0.5, basis="approved", band=0.2).record


def test_feature_ablation_is_the_score_with_the_own_value_minus_with_the_reference_value(
    twins: tuple[PipelineClassifier, PipelineClassifier], wide_data: PreparedData
) -> None:
    model = twins[0]
    reference = reference_of(model, wide_data)
    explained = field_model(model, wide_data, fields=FIELDS, reference=reference, template=WIDE_TEMPLATE)
    rows = wide_data.test_idx[:6]
    batch = explained.build(rows)
    ablation = perturbation_attributions(explained, batch, method="feature_ablation", shapley_samples=1, seeds=[])

    records = wide_data.frame.iloc[rows].to_dict("records")
    own = model.predict_records(records, template="")
    by_hand = np.stack(
        [own - model.predict_records([{**r, f: reference[f]} for r in records], template="") for f in FIELDS], axis=1
    )
    assert np.abs(by_hand).max() > 0.01  # the reference applicant moves the score: the check has teeth
    assert np.allclose(ablation, by_hand, atol=1e-12)
    everything = scores_with_fields(explained, batch, np.arange(6), np.zeros((6, len(FIELDS)), dtype=bool))
    assert np.allclose(everything, model.predict_records([reference], template=""), atol=1e-12)
    with pytest.raises(ValueError, match="Integrated Gradients needs a differentiable model"):
        integrated_gradients(explained, batch, n_steps=4, internal_batch_size=None)


def test_a_skops_file_and_its_onnx_twin_are_explained_alike(
    twins: tuple[PipelineClassifier, PipelineClassifier], wide_data: PreparedData
) -> None:
    reference = reference_of(twins[0], wide_data)
    rows = wide_data.test_idx[:5]
    seeds = [11, 12, 13, 14, 15]
    found = []
    for model in twins:
        explained = field_model(model, wide_data, fields=FIELDS, reference=reference, template=WIDE_TEMPLATE)
        batch = explained.build(rows)
        found.append(
            [
                perturbation_attributions(explained, batch, method=m, shapley_samples=3, seeds=seeds)
                for m in ("feature_ablation", "shapley_value_sampling")
            ]
        )
    for skops_values, onnx_values in zip(*found, strict=True):
        assert np.allclose(skops_values, onnx_values, atol=1e-6)


def pipeline_context(
    wide_spec: Spec, wide_data: PreparedData, model: PipelineClassifier, tmp_path: Path
) -> AuditContext:
    context = context_for(wide_spec, wide_data, model, tmp_path)
    return dataclasses.replace(context, plan=dataclasses.replace(context.plan, model_source=model.format))


def test_on_a_pipeline_the_plugin_produces_what_it_declares_and_says_what_it_skipped(
    twins: tuple[PipelineClassifier, PipelineClassifier], wide_spec: Spec, wide_data: PreparedData, tmp_path: Path
) -> None:
    params = ExplanationsParams(samples=8, chunk_size=4, notices=6, reasons={"credit_history": "Credit history"})
    sections = [
        check_plugin(ExplanationsPlugin(), pipeline_context(wide_spec, wide_data, model, tmp_path), params)
        for model in twins
    ]
    for findings in sections:
        paths = {m.path for m in findings.metrics}
        assert not {p for p in paths if "integrated_gradients" in p or "convergence_delta" in p}
        assert {"explanations.method_agreement", "explanations.feature_ablation.sensitivity_max"}.isdisjoint(paths)
        assert {"explanations.sensitive_share", "explanations.feature_ablation.deletion_gain"} <= paths
        assert BLACK_BOX_SKIPPED in findings.notes
        assert "Integrated Gradients does not apply: the model is scored through its own code" in findings.summary
        label = next(m.label for m in findings.metrics if m.path == "explanations.sensitive_share")
        assert label == "Share of feature ablation attribution on sensitive fields"
    figures = [{m.path: m.value for m in findings.metrics} for findings in sections]
    assert figures[0]["explanations.notices.produced"] == 6
    for path, value in figures[0].items():
        assert figures[1][path] == pytest.approx(value, abs=1e-6), path


def test_gradient_parameters_set_for_a_pipeline_are_spec_problems_naming_the_key() -> None:
    plan = AuditPlan(attributes={"sex": ["female", "male"]}, private=False, model_kind="tabular", model_source="onnx")
    params = ExplanationsParams.model_validate({"n_steps": 8, "samples": 4})
    assert ExplanationsPlugin().check(params, plan) == [
        "n_steps: sets the integration steps of Integrated Gradients, which needs gradients or continuous inputs; "
        "a model.source.format: onnx model is scored as a black box and explained by feature_ablation alone (no "
        "Integrated Gradients, no sensitivity_max): remove it"
    ]
    assert ExplanationsPlugin().check(ExplanationsParams(samples=4), plan) == []
    assert ExplanationsPlugin().check(params, dataclasses.replace(plan, model_source="")) == []
    trained = ExplanationsPlugin().metric_paths(params, dataclasses.replace(plan, model_source=""))
    external = ExplanationsPlugin().metric_paths(params, plan)
    assert set(trained) - set(external) == {
        "explanations.convergence_delta.mean_abs",
        "explanations.convergence_delta.max_abs",
        "explanations.method_agreement",
        "explanations.feature_ablation.sensitivity_max",
        *(f"explanations.integrated_gradients.{f}" for f in ("deletion_gain", "insertion_gain", "infidelity")),
        "explanations.integrated_gradients.sensitivity_max",
    }
    assert set(external) < set(trained)
