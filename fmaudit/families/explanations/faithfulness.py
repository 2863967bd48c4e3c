"""Do the attributions describe the model? Checks at the level of fields.

- Deletion / insertion (Petsiuk et al. 2018, RISE): replace the applicant's fields
  with the reference applicant's in order of attribution (most favourable first)
  and follow P(favourable); insertion starts from the reference applicant and puts
  the applicant's fields back in the same order. A faithful order moves the score
  faster than a random one.
- Each adverse-action notice is checked where it is made (``notices``): its reasons set
  together to the reference applicant's values must raise the score more than as many
  other fields chosen at random.
- Captum's ``infidelity`` (Yeh et al. 2019) with random sets of fields removed:
  how far the attributions of the removed fields are from the score change.
- Captum's ``sensitivity_max`` (Yeh et al. 2019): how much the attributions change
  under small input noise; it applies where inputs are continuous (tabular
  features), not to token ids nor to a pipeline's 0/1 field indicators.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fmaudit.families.explanations.fields import (
    FieldInputs,
    FieldModel,
    no_parameter_gradients,
    scores_with_fields,
)


def order_curves(
    explained: FieldModel,
    batch: FieldInputs,
    rows: np.ndarray,
    orders: dict[str, np.ndarray],
    *,
    depth: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per ordering (name -> (len(rows) x n_fields) field orders), the summed deletion and insertion scores at
    k = 0..depth for the given batch rows (sums, so chunks can be added up)."""
    n_fields = len(batch.fields)
    deletion, insertion = {}, {}
    for name, order in orders.items():
        variants_rows, delete_keep, insert_keep = [], [], []
        for i, row in enumerate(rows):
            for k in range(depth + 1):
                gone = order[i, :k]
                keep = np.ones(n_fields, dtype=bool)
                keep[gone] = False
                delete_keep.append(keep)
                insert_keep.append(~keep)
                variants_rows.append(row)
        deletion_scores = scores_with_fields(explained, batch, np.array(variants_rows), np.array(delete_keep))
        insertion_scores = scores_with_fields(explained, batch, np.array(variants_rows), np.array(insert_keep))
        deletion[name] = deletion_scores.reshape(len(rows), depth + 1).sum(axis=0)
        insertion[name] = insertion_scores.reshape(len(rows), depth + 1).sum(axis=0)
    return deletion, insertion


def per_row_uniform(generators: Sequence[Any], count: int, shape: tuple[int, ...]) -> Any:
    """Uniform [0, 1) noise for a batch laid out as Captum lays out perturbations (``repeat_interleave``: each
    row's ``count // len(generators)`` copies together), each row's block drawn from that row's generator."""
    import torch

    if count % len(generators):
        raise ValueError(f"{count} perturbed inputs do not split evenly over {len(generators)} rows")
    per_row = count // len(generators)
    return torch.cat([torch.rand((per_row, *shape), generator=g, dtype=torch.float64) for g in generators])


def field_infidelity(
    explained: FieldModel,
    batch: FieldInputs,
    attributions: np.ndarray,
    *,
    samples: int,
    drop_probability: float,
    seeds: Sequence[int],
) -> np.ndarray:
    """Captum's infidelity per row, in field space: random sets of fields are set to the reference applicant's
    values and the attributions of those fields are compared with the score change they cause. Row ``k``'s
    fields are dropped by draws from ``seeds[k]`` alone, so its value does not depend on the other rows."""
    import torch
    from captum.metrics import infidelity

    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    present = torch.ones(len(batch.inputs), len(batch.fields), dtype=torch.float64)

    def perturb(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kept = (per_row_uniform(generators, len(inputs), tuple(inputs.shape[1:])) >= drop_probability).double()
        return inputs - inputs * kept, inputs * kept

    def forward(presence: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        scores = scores_with_fields(explained, batch, rows.numpy(), presence.numpy() > 0.5)
        return torch.as_tensor(scores)

    with torch.inference_mode():
        values = infidelity(
            forward,
            perturb,
            present,
            torch.as_tensor(attributions, dtype=torch.float64),
            additional_forward_args=(torch.arange(len(batch.inputs)),),
            n_perturb_samples=samples,
            normalize=False,
        )
    return values.numpy().astype(np.float64)


def sensitivity(
    explained: FieldModel,
    batch: FieldInputs,
    method: str,
    *,
    n_steps: int,
    shapley_samples: int,
    samples: int,
    radius: float,
    seeds: Sequence[int],
) -> np.ndarray:
    """Captum's ``sensitivity_max`` per row for 'integrated_gradients' or a perturbation method, on continuous
    inputs (tabular features): the largest relative change of the attributions under uniform noise of
    ``radius``. Row ``k``'s noise (and Shapley permutations) come from ``seeds[k]`` alone."""
    import torch
    from captum.attr import FeatureAblation, IntegratedGradients, ShapleyValueSampling
    from captum.metrics import sensitivity_max

    if explained.layer is not None or explained.black_box:
        raise ValueError("sensitivity_max needs continuous inputs; text models read token ids, pipelines 0/1 fields")
    mask = batch.field_mask[:1]
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]

    def perturb(inputs: torch.Tensor, radius: float) -> torch.Tensor:
        noise = per_row_uniform(generators, len(inputs), tuple(inputs.shape[1:])).to(inputs.dtype)
        return inputs + (2 * noise - 1) * radius

    def shapley(inputs: torch.Tensor, baselines: torch.Tensor) -> torch.Tensor:
        """Each row's block of copies with the row's own permutations (Captum shares them across a batch)."""
        per_row = len(inputs) // len(seeds)
        blocks = []
        for k, seed in enumerate(seeds):
            rows = slice(k * per_row, (k + 1) * per_row)
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                explainer = ShapleyValueSampling(explained.forward)
                options = {"baselines": baselines[rows], "feature_mask": mask, "n_samples": shapley_samples}
                blocks.append(explainer.attribute(inputs[rows], **options))
        return torch.cat(blocks)

    def explain(inputs: Any, baselines: Any) -> Any:
        if method == "integrated_gradients":
            return IntegratedGradients(explained.forward).attribute(inputs, baselines=baselines, n_steps=n_steps)
        with torch.no_grad():
            if method == "feature_ablation":
                return FeatureAblation(explained.forward).attribute(inputs, baselines=baselines, feature_mask=mask)
            # Captum passes a one-tensor tuple or a tensor, and expects the same form back.
            (tensor,), (baseline,) = (x if isinstance(x, tuple) else (x,) for x in (inputs, baselines))
            values = shapley(tensor, baseline)
            return (values,) if isinstance(inputs, tuple) else values

    with no_parameter_gradients(explained):
        values = sensitivity_max(
            explain,
            batch.inputs,
            perturb_func=perturb,
            perturb_radius=radius,
            n_perturb_samples=samples,
            baselines=batch.baselines,
        )
    return values.detach().numpy().astype(np.float64)
