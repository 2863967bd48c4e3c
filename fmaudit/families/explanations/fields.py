"""Field-level attributions for text and tabular models, through Captum.

Both kinds of model are seen the same way: a batch of rows as the model reads
them (token ids, or one-hot / standardised features), the reference applicant
aligned to them position by position, and for each position the field it belongs
to. Template text, special tokens and padding belong to no field and are
identical in input and baseline, so they carry no attribution.

- Integrated Gradients (Sundararajan et al. 2017): on the input embeddings for
  text (``LayerIntegratedGradients``), on the encoded features for tabular
  models; per-position attributions are summed per field, so one-hot groups sum
  back to their column.
- A perturbation method (``FeatureAblation`` or ``ShapleyValueSampling``) with
  the fields as feature groups: a field's attribution is the score change when
  it takes the reference applicant's value.

For text, the reference applicant's value of each field is placed where the
applicant's value is, truncated or padded with [PAD] to the applicant's token
count for that field, so input and baseline have the same length.

A model trained elsewhere (a skops or ONNX pipeline) is a black box scored on raw
field values: its inputs are one indicator per field, 1 for the applicant's own
value and 0 for the reference applicant's, and its forward pass builds the rows
from them. The perturbation methods only ever pass 0 or 1, so their attributions
are exact; Integrated Gradients does not apply.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fmaudit.data import field_of_token, serialise

if TYPE_CHECKING:
    import torch

    from fmaudit.data import PreparedData
    from fmaudit.models.base import Classifier

Perturbation = Literal["feature_ablation", "shapley_value_sampling"]
SCORING_BATCH = 64


@dataclass(frozen=True)
class FieldInputs:
    """Rows as the model reads them, the reference applicant aligned to them, and each position's field."""

    inputs: torch.Tensor
    """Token ids (rows x tokens) or encoded features (rows x features)."""
    baselines: torch.Tensor
    """The reference applicant, same shape and alignment as ``inputs``."""
    field_mask: torch.Tensor
    """Field index of every position; ``len(fields)`` for positions outside any field."""
    extra: tuple[torch.Tensor, ...]
    """Further forward arguments (the attention mask for text)."""
    fields: tuple[str, ...]
    offsets: np.ndarray | None = None
    """Text only: each token's character span in its row's text (rows x tokens x 2)."""


def subset(batch: FieldInputs, rows: np.ndarray) -> FieldInputs:
    """The same batch restricted to some of its rows."""
    import torch

    take = torch.as_tensor(rows, dtype=torch.long)
    return FieldInputs(
        inputs=batch.inputs[take],
        baselines=batch.baselines[take],
        field_mask=batch.field_mask[take],
        extra=tuple(tensor[take] for tensor in batch.extra),
        fields=batch.fields,
        offsets=None if batch.offsets is None else batch.offsets[rows],
    )


@dataclass(frozen=True)
class FieldModel:
    """A classifier seen field by field: how to build its inputs, and P(favourable) from them."""

    forward: Callable[..., torch.Tensor]
    """P(favourable) from (inputs, *extra); differentiable."""
    layer: Any
    """The layer Integrated Gradients attributes at (text: input embeddings); None: the inputs themselves."""
    parameters: Callable[[], Iterator[torch.Tensor]]
    build: Callable[[np.ndarray], FieldInputs]
    """FieldInputs for rows of the prepared data."""
    black_box: bool = False
    """True for a model scored through its own numpy code (a skops or ONNX pipeline): inputs are 0/1 field
    indicators, so neither Integrated Gradients nor sensitivity_max (noise on the inputs) applies."""


def field_model(
    classifier: Classifier,
    data: PreparedData,
    *,
    fields: Sequence[str],
    reference: dict[str, object],
    template: str,
) -> FieldModel:
    """The field-level view of a text, tabular or pipeline classifier against a reference applicant."""
    from fmaudit.models.pipelines import PipelineClassifier
    from fmaudit.models.tabular import TabularClassifier
    from fmaudit.models.text import TextClassifier

    if isinstance(classifier, TabularClassifier):
        return _tabular_model(classifier, data, fields=fields, reference=reference)
    if isinstance(classifier, PipelineClassifier):
        return _pipeline_model(classifier, data, fields=fields, reference=reference)
    if isinstance(classifier, TextClassifier):
        return _text_model(classifier, data, fields=fields, reference=reference, template=template)
    raise TypeError(f"no field-level explanations for a {type(classifier).__name__}")


def _tabular_model(
    classifier: Any, data: PreparedData, *, fields: Sequence[str], reference: dict[str, object]
) -> FieldModel:
    import pandas as pd
    import torch

    columns = classifier.encoder.feature_columns
    mask_row = torch.tensor([list(fields).index(c) if c in fields else len(fields) for c in columns])
    baseline_row = classifier.features(pd.DataFrame([reference]))

    def build(rows: np.ndarray) -> FieldInputs:
        inputs = classifier.features(data.frame.iloc[rows])
        return FieldInputs(
            inputs=inputs,
            baselines=baseline_row.expand_as(inputs).clone(),
            field_mask=mask_row.expand_as(inputs).clone(),
            extra=(),
            fields=tuple(fields),
        )

    return FieldModel(
        forward=classifier.favourable_probability,
        layer=None,
        parameters=classifier.model.parameters,
        build=build,
    )


def _pipeline_model(
    classifier: Any, data: PreparedData, *, fields: Sequence[str], reference: dict[str, object]
) -> FieldModel:
    """Rows as 0/1 field indicators (1: the applicant's value, 0: the reference applicant's), with the rows'
    ids as a further forward argument (Captum repeats it with the rows it perturbs)."""
    import pandas as pd
    import torch

    index = {field: k for k, field in enumerate(fields)}

    def build(rows: np.ndarray) -> FieldInputs:
        shape = (len(rows), len(fields))
        return FieldInputs(
            inputs=torch.ones(shape, dtype=torch.float64),
            baselines=torch.zeros(shape, dtype=torch.float64),
            field_mask=torch.arange(len(fields)).expand(shape).clone(),
            extra=(torch.as_tensor(rows, dtype=torch.long),),
            fields=tuple(fields),
        )

    def forward(indicators: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        own = data.frame.iloc[rows.numpy()]
        keep = indicators.detach().numpy() > 0.5
        frame = pd.DataFrame(
            {
                column: own[column].to_numpy()
                if column not in index
                else np.where(keep[:, index[column]], own[column].to_numpy(), np.asarray(reference[column]))
                for column in classifier.columns
            }
        )
        return torch.as_tensor(classifier.predict_frame(frame))

    return FieldModel(forward=forward, layer=None, parameters=lambda: iter(()), build=build, black_box=True)


def _text_model(
    classifier: Any,
    data: PreparedData,
    *,
    fields: Sequence[str],
    reference: dict[str, object],
    template: str,
) -> FieldModel:
    import torch

    from fmaudit.models.text import in_favourable_order

    model, tokenizer = classifier.model, classifier.tokenizer
    index = {field: k for k, field in enumerate(fields)}
    outside = len(fields)
    ref = serialise(reference, template)
    ref_encoded = tokenizer(ref.text, truncation=True, max_length=classifier.max_length, return_offsets_mapping=True)
    special_ids = set(tokenizer.all_special_ids)
    ref_tokens: dict[str, list[int]] = {field: [] for field in fields}
    for token, (start, end) in zip(ref_encoded["input_ids"], ref_encoded["offset_mapping"], strict=True):
        field = field_of_token(start, end, ref.spans) if token not in special_ids and end > start else None
        if field in ref_tokens:
            ref_tokens[field].append(token)

    def build(rows: np.ndarray) -> FieldInputs:
        encoded = tokenizer(
            [data.texts[i] for i in rows],
            truncation=True,
            max_length=classifier.max_length,
            padding="longest",
            return_tensors="pt",
            return_offsets_mapping=True,
        )
        ids, offsets = encoded["input_ids"], encoded["offset_mapping"].numpy()
        special = torch.isin(ids, torch.tensor(sorted(special_ids))).numpy()
        baselines = ids.clone()
        field_mask = torch.full_like(ids, outside)
        for k, row in enumerate(rows):
            positions: dict[str, list[int]] = {}
            for j in range(ids.shape[1]):
                start, end = offsets[k, j]
                if special[k, j] or end <= start:
                    continue
                field = field_of_token(int(start), int(end), data.spans[row])
                if field in index:
                    positions.setdefault(field, []).append(j)
            for field, where in positions.items():
                field_mask[k, where] = index[field]
                replacement = (ref_tokens[field] + [tokenizer.pad_token_id] * len(where))[: len(where)]
                baselines[k, where] = torch.tensor(replacement)
        return FieldInputs(
            inputs=ids,
            baselines=baselines,
            field_mask=field_mask,
            extra=(encoded["attention_mask"],),
            fields=tuple(fields),
            offsets=offsets,
        )

    def forward(ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = model(input_ids=ids, attention_mask=attention_mask).logits
        return torch.softmax(in_favourable_order(logits, classifier.favourable_index), dim=-1)[:, 1]

    return FieldModel(forward=forward, layer=model.get_input_embeddings(), parameters=model.parameters, build=build)


@contextlib.contextmanager
def no_parameter_gradients(explained: FieldModel) -> Iterator[None]:
    """Attributions need gradients with respect to the inputs only: skipping the weights' gradients saves
    a large part of every backward pass."""
    params = list(explained.parameters())
    previous = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, previous, strict=True):
            p.requires_grad_(flag)


def integrated_gradients(
    explained: FieldModel, batch: FieldInputs, *, n_steps: int, internal_batch_size: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """IG attributions of P(favourable) per position (rows x positions) and Captum's convergence deltas."""
    from captum.attr import IntegratedGradients, LayerIntegratedGradients

    if explained.black_box:
        raise ValueError("Integrated Gradients needs a differentiable model; a pipeline is scored as a black box")

    method: Any = (
        IntegratedGradients(explained.forward)
        if explained.layer is None
        else LayerIntegratedGradients(explained.forward, explained.layer)
    )
    with no_parameter_gradients(explained):
        attributions, delta = method.attribute(
            inputs=batch.inputs,
            baselines=batch.baselines,
            additional_forward_args=batch.extra or None,
            n_steps=n_steps,
            # Captum needs at least one interpolation step of every row per forward pass.
            internal_batch_size=None if internal_batch_size is None else max(internal_batch_size, len(batch.inputs)),
            return_convergence_delta=True,
        )
    attributions = attributions.detach()
    if explained.layer is not None:
        attributions = attributions.sum(dim=-1)
    return attributions.numpy().astype(np.float64), delta.detach().numpy().astype(np.float64)


def perturbation_attributions(
    explained: FieldModel, batch: FieldInputs, *, method: Perturbation, shapley_samples: int, seeds: Sequence[int]
) -> np.ndarray:
    """Field attributions (rows x fields) by ablating each field to the reference applicant's value
    (FeatureAblation) or by sampled Shapley values over the fields. Shapley sampling runs row by row, each row
    with its own seed: Captum draws one set of permutations per call, shared by every row of the batch."""
    import torch
    from captum.attr import FeatureAblation, ShapleyValueSampling

    def attribute(part: FieldInputs, seed: int | None = None) -> np.ndarray:
        kwargs: dict[str, Any] = {
            "inputs": part.inputs,
            "baselines": part.baselines,
            "additional_forward_args": part.extra or None,
            "feature_mask": part.field_mask,
            "perturbations_per_eval": max(1, SCORING_BATCH // len(part.inputs)),
        }
        with torch.inference_mode(), torch.random.fork_rng():  # Captum draws from torch's global RNG: seed, restore
            if seed is None:
                values = FeatureAblation(explained.forward).attribute(**kwargs)
            else:
                torch.manual_seed(seed)
                values = ShapleyValueSampling(explained.forward).attribute(n_samples=shapley_samples, **kwargs)
        return per_field(values.numpy().astype(np.float64), part.field_mask.numpy(), n_fields, reduce="mean")

    n_fields = len(batch.fields)
    if method == "feature_ablation":
        return attribute(batch)
    if len(seeds) != len(batch.inputs):
        raise ValueError(f"one seed per row needed: {len(seeds)} seeds for {len(batch.inputs)} rows")
    rows = [attribute(subset(batch, np.array([k])), seed) for k, seed in enumerate(seeds)]
    return np.concatenate(rows) if rows else np.zeros((0, n_fields))


def per_field(
    per_position: np.ndarray, field_mask: np.ndarray, n_fields: int, *, reduce: Literal["sum", "mean"]
) -> np.ndarray:
    """Rows x fields from rows x positions: summed (gradient methods: one-hot groups sum back to their column)
    or averaged (perturbation methods give every position of a group the group's attribution)."""
    rows = np.repeat(np.arange(len(per_position)), per_position.shape[1])
    flat_fields = field_mask.reshape(-1)
    totals = np.zeros((len(per_position), n_fields + 1))
    np.add.at(totals, (rows, flat_fields), per_position.reshape(-1))
    if reduce == "mean":
        counts = np.zeros_like(totals)
        np.add.at(counts, (rows, flat_fields), 1.0)
        totals = np.divide(totals, counts, out=np.zeros_like(totals), where=counts > 0)
    return totals[:, :n_fields]


def scores_with_fields(explained: FieldModel, batch: FieldInputs, rows: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """P(favourable) of batch row ``rows[i]`` with only the fields where ``keep[i]`` is true taken from the
    applicant, the others from the reference applicant (the primitive of every deletion check)."""
    import torch

    keep_all = torch.as_tensor(np.concatenate([keep, np.ones((len(keep), 1), dtype=bool)], axis=1))
    scores = []
    with torch.inference_mode():
        for start in range(0, len(rows), SCORING_BATCH):
            chosen = torch.as_tensor(rows[start : start + SCORING_BATCH])
            masks = batch.field_mask[chosen]
            kept = torch.gather(keep_all[start : start + SCORING_BATCH], 1, masks)
            inputs = torch.where(kept, batch.inputs[chosen], batch.baselines[chosen])
            extra = tuple(tensor[chosen] for tensor in batch.extra)
            scores.append(explained.forward(inputs, *extra).numpy().astype(np.float64))
    return np.concatenate(scores) if scores else np.zeros(0)
