"""Do the attributions describe the model? Checks at the level of fields.

- Deletion / insertion (Petsiuk et al. 2018, RISE): replace the applicant's fields
  with the reference applicant's in order of attribution (most favourable first)
  and follow P(favourable); insertion starts from the reference applicant and puts
  the applicant's fields back in the same order. A faithful order moves the score
  faster than a random one.
- Reason deletion: for an adverse decision, setting its reasons to the reference
  applicant's values should raise the score more than setting as many randomly
  chosen (non-sensitive) fields; where it does not, the reasons are unreliable.
- Captum's ``infidelity`` (Yeh et al. 2019) with random sets of fields removed:
  how far the attributions of the removed fields are from the score change.
- Captum's ``sensitivity_max`` (Yeh et al. 2019): how much the attributions change
  under small input noise; it applies where inputs are continuous (tabular
  features), not to token ids.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from fmaudit.explanations.fields import (
    FieldInputs,
    FieldModel,
    Perturbation,
    no_parameter_gradients,
    scores_with_fields,
    subset,
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


def reason_deletion(
    explained: FieldModel,
    batch: FieldInputs,
    row: int,
    reasons: list[int],
    candidates: list[int],
    *,
    random_sets: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Score change when the reasons take the reference applicant's values, and the mean change over
    ``random_sets`` random sets of as many fields drawn from ``candidates``."""
    n_fields = len(batch.fields)
    sets = [reasons] + [
        list(rng.choice(candidates, size=min(len(reasons), len(candidates)), replace=False)) for _ in range(random_sets)
    ]
    keep = np.ones((len(sets) + 1, n_fields), dtype=bool)
    for i, chosen in enumerate(sets, start=1):
        keep[i, chosen] = False
    scores = scores_with_fields(explained, batch, np.full(len(keep), row), keep)
    changes = scores[1:] - scores[0]
    return float(changes[0]), float(changes[1:].mean()) if random_sets else float("nan")


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
    values and the attributions of those fields are compared with the score change they cause. Row ``k`` is
    perturbed from ``seeds[k]`` alone, so its value does not depend on the other rows of the batch."""
    import torch
    from captum.metrics import infidelity

    def forward(presence: torch.Tensor, rows: torch.Tensor, one: FieldInputs) -> torch.Tensor:
        return torch.as_tensor(scores_with_fields(explained, one, rows.numpy(), presence.numpy() > 0.5))

    values = []
    for k, seed in enumerate(seeds):
        generator = torch.Generator().manual_seed(seed)

        def perturb(inputs: torch.Tensor, generator: torch.Generator = generator) -> tuple[torch.Tensor, torch.Tensor]:
            kept = (torch.rand(inputs.shape, generator=generator, dtype=torch.float64) >= drop_probability).double()
            return inputs - inputs * kept, inputs * kept

        with torch.inference_mode():
            values.append(
                infidelity(
                    functools.partial(forward, one=subset(batch, np.array([k]))),
                    perturb,
                    torch.ones(1, len(batch.fields), dtype=torch.float64),
                    torch.as_tensor(attributions[k : k + 1], dtype=torch.float64),
                    additional_forward_args=(torch.zeros(1, dtype=torch.long),),
                    n_perturb_samples=samples,
                    normalize=False,
                ).numpy()
            )
    return np.concatenate(values).astype(np.float64) if values else np.zeros(0)


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
    ``radius``. Row ``k``'s noise is drawn from ``seeds[k]`` alone."""
    import torch
    from captum.attr import FeatureAblation, IntegratedGradients, ShapleyValueSampling
    from captum.metrics import sensitivity_max

    if explained.layer is not None:
        raise ValueError("sensitivity_max needs continuous inputs; text models read token ids")
    mask = batch.field_mask[:1]

    def explain(inputs: torch.Tensor, baselines: torch.Tensor) -> torch.Tensor:
        if method == "integrated_gradients":
            return IntegratedGradients(explained.forward).attribute(inputs, baselines=baselines, n_steps=n_steps)
        perturbation: Perturbation = "feature_ablation" if method == "feature_ablation" else "shapley_value_sampling"
        options: dict[str, Any] = {"baselines": baselines, "feature_mask": mask}
        with torch.no_grad():
            if perturbation == "feature_ablation":
                return FeatureAblation(explained.forward).attribute(inputs, **options)
            return ShapleyValueSampling(explained.forward).attribute(inputs, n_samples=shapley_samples, **options)

    values = []
    for k, seed in enumerate(seeds):
        # sensitivity_max (and ShapleyValueSampling) draw from torch's global RNG: seed it, then restore it.
        with torch.random.fork_rng(), no_parameter_gradients(explained):
            torch.manual_seed(seed)
            change = sensitivity_max(
                explain,
                batch.inputs[k : k + 1],
                perturb_radius=radius,
                n_perturb_samples=samples,
                baselines=batch.baselines[k : k + 1],
            )
        values.append(change.detach().numpy())
    return np.concatenate(values).astype(np.float64) if values else np.zeros(0)
