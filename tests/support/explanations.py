"""Explanations on models whose answer is known: a linear-logit tabular model on the wide template, its audit
context, the field-level view of a text classifier, and the completeness check of Integrated Gradients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from fmaudit.data import PreparedData, prepare, template_fields
from fmaudit.families.explanations.fields import field_model, integrated_gradients
from fmaudit.models.tabular import TabularClassifier, TabularEncoder
from fmaudit.models.text import TextClassifier, load_pretrained
from fmaudit.plugins.base import AuditContext, AuditPlan, Predictions
from fmaudit.spec import Spec
from tests.support.specs import WIDE_TEMPLATE

HISTORY_WEIGHTS = {
    "critical account/ other credits existing (not at this bank)": 3.0,
    "existing credits paid back duly till now": 2.0,
    "delay in paying off in the past": -3.0,
    "all credits at this bank paid back duly": -3.0,
    "no credits taken/ all credits paid back duly": -3.0,
}


def synthetic_classifier(data: PreparedData, weights: dict[str, Any]) -> TabularClassifier:
    """A linear-logit model on the encoded columns that reads only the columns in ``weights``
    (a category -> logit map for categorical columns, a slope for standardised numeric ones)."""
    fields = template_fields(WIDE_TEMPLATE)
    encoder = TabularEncoder.fit(data.frame.iloc[data.train_idx][fields])
    linear = torch.nn.Linear(len(encoder.feature_columns), 2)
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.zero_()
        position = 0
        for column in encoder.columns:
            weight = weights.get(column.column)
            if isinstance(weight, dict):
                for j, category in enumerate(column.categories):
                    linear.weight[1, position + j] = weight.get(category, 0.0)
            elif weight is not None:
                linear.weight[1, position] = weight
            position += column.width
    return TabularClassifier(torch.nn.Sequential(linear), encoder, hidden=[])


def context_for(spec: Spec, data: PreparedData, classifier: Any, tmp_path: Path) -> AuditContext:
    rows = data.test_idx
    fields = tuple(template_fields(spec.data.template))
    sensitive = {s.column for s in spec.data.sensitive.values()}
    return AuditContext(
        spec=spec,
        data=data,
        model=classifier,
        predictions=Predictions(rows, data.labels[rows], classifier.predict_rows(data, rows)),
        training=None,  # type: ignore[arg-type]  # explanations never read the training record
        work_dir=tmp_path,
        show_progress=False,
        plan=AuditPlan(
            attributes={name: sorted(data.sensitive[name].unique()) for name in data.sensitive.columns},
            private=False,
            intersections=("sex_x_age_group",),
            model_kind="tabular",
            fields=fields,
            sensitive_fields=tuple(f for f in fields if f in sensitive),
        ),
    )


def text_field_view(
    model_dir: Path, spec_dict: dict[str, Any], tmp_path: Path
) -> tuple[Any, Any, list[str], TextClassifier]:
    """The field-level view of a text classifier against a reference applicant with a changed history,
    and the built inputs of test rows 1-3. The random head is redrawn large, so scores depend on the input."""
    spec_dict["data"]["max_rows"] = 30
    spec = Spec.model_validate(spec_dict)
    data = prepare(spec.data, base_dir=tmp_path)
    model, tokenizer = load_pretrained(model_dir)
    torch.manual_seed(0)
    head = model.classifier if hasattr(model, "classifier") else model.score  # BERT's or a decoder's
    torch.nn.init.normal_(head.weight, std=1.0)
    classifier = TextClassifier(model, tokenizer, max_length=64)
    fields = template_fields(spec.data.template)
    reference = dict(data.frame.iloc[0][fields]) | {"credit_history": "delay in paying off in the past"}
    explained = field_model(classifier, data, fields=fields, reference=reference, template=spec.data.template)
    return explained, explained.build(np.array([1, 2, 3])), fields, classifier


def assert_integrated_gradients_complete(explained: Any, batch: Any, outside: torch.Tensor) -> None:
    """IG's attributions sum to the score gap up to the Riemann error; tokens outside the fields get none."""
    positions, deltas = integrated_gradients(explained, batch, n_steps=64, internal_batch_size=32)
    with torch.inference_mode():
        f_input = explained.forward(batch.inputs, *batch.extra).numpy()
        f_base = explained.forward(batch.baselines, *batch.extra).numpy()
    assert np.abs(f_input - f_base).max() > 1e-5  # the baseline moves the score: the check has teeth
    assert np.allclose(positions.sum(axis=1) - (f_input - f_base), deltas, atol=1e-5)
    assert np.abs(deltas).max() < 0.05 * np.abs(f_input - f_base).max()  # complete up to the Riemann error
    assert (positions[outside.numpy()] == 0).all()
