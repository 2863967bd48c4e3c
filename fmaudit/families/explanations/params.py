"""The explanations plugin's parameters (``audits.explanations``) and the figures it reports."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from fmaudit.families.explanations.fields import Perturbation
from fmaudit.families.explanations.reference import Basis
from fmaudit.spec import PluginParams

IG = "integrated_gradients"
METHOD_TITLES = {
    IG: "Integrated Gradients",
    "feature_ablation": "Feature ablation",
    "shapley_value_sampling": "Shapley value sampling",
}
FAITHFULNESS = ("deletion_gain", "insertion_gain", "infidelity", "sensitivity_max")
BLACK_BOX_SOURCES = ("skops", "onnx")
"""``model.source.format`` values whose models are scored through their own code, without gradients: explained by
the perturbation method alone (no Integrated Gradients, no sensitivity_max)."""
GRADIENT_PARAMS = {
    "n_steps": "integration steps of Integrated Gradients",
    "internal_batch_size": "Integrated Gradients' interpolation steps per forward pass",
    "sensitivity_samples": "noisy copies per row for sensitivity_max",
}
"""Parameters that only methods needing gradients or continuous inputs read."""
NOTICE_FIGURES = (
    "adverse_decisions",
    "produced",
    "missing_reason_share",
    "unfaithful_share",
    "unexplained_share",
    "mean_reasons",
    "sensitive_flagged_share",
    "proxy_reason_share",
)


class ExplanationsParams(PluginParams):
    samples: int = Field(12, ge=1, description="seeded sample of test rows for importance, groups and faithfulness")
    notices: int | Literal["all"] = Field(
        "all", description="adverse decisions given a notice: 'all', or a number (a seeded sample; all if fewer)"
    )
    n_steps: int = Field(32, ge=2, description="integration steps of Integrated Gradients")
    internal_batch_size: int = Field(64, ge=1, description="interpolation steps evaluated per forward pass")
    chunk_size: int = Field(4, ge=1, description="rows attributed together (memory grows with it)")
    perturbation: Perturbation = Field("feature_ablation", description="the second, perturbation-based method")
    shapley_samples: int = Field(8, ge=1, description="permutations per row for shapley_value_sampling")
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
    proxy_threshold: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="association with a sensitive attribute (bias-corrected Cramér's V on the test split) above "
        "which a reason field is flagged as a possible proxy of it",
    )
    notice_shapley_orders: int = Field(
        2,
        ge=1,
        description="seeded orders of the Shapley value sampling that checks each notice's reasons; each order "
        "scores up to one record per non-sensitive field, so the records scored per notice grow from about "
        "fields + 1 (occlusion) by about this many times the fields",
    )
    random_orders: int = Field(3, ge=1, description="random field orders each attribution's curves are compared with")
    curve_depth: int | None = Field(None, ge=1, description="fields deleted / inserted along the curves (all)")
    infidelity_samples: int = Field(10, ge=1, description="random field sets per row for Captum's infidelity")
    sensitivity_samples: int = Field(10, ge=1, description="noisy copies per row for Captum's sensitivity_max")
    seed: int = 0
    examples: int = Field(3, ge=0, description="highlighted example texts shown in the report")

    @field_validator("notices", mode="before")
    @classmethod
    def _all_or_count(cls, value: object) -> object:
        if value == "all" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return value
        raise ValueError("expected 'all' or a whole number >= 0 of adverse decisions (a seeded sample)")
