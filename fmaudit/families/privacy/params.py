"""The privacy plugin's parameters (``audits.privacy``) and the figures it reports."""

from __future__ import annotations

from pydantic import Field

from fmaudit.core.findings import Better
from fmaudit.spec import PluginParams

FIGURES: dict[str, tuple[str, Better]] = {
    "epsilon": ("Epsilon reached", "lower"),
    "delta": ("Delta", "lower"),
    "noise_multiplier": ("Noise multiplier", "none"),
    "sample_rate": ("Sampling rate", "none"),
    "steps": ("Optimizer steps", "none"),
    "max_grad_norm": ("Clipping norm", "none"),
    "replayable_noise": ("Noise seeded from the spec: replayable, not a privacy guarantee (1 = yes)", "lower"),
    "unaccounted_statistics": ("Statistics of the training rows the weights depend on, outside epsilon", "lower"),
    "released_epsilon": ("Epsilon of every DP model on these rows the report releases, composed", "lower"),
    "released_without_dp": ("Models on these rows the report releases figures of, trained without DP", "lower"),
}
ATTACK_FIGURES: dict[str, tuple[str, Better]] = {
    "auc": ("attack ROC AUC", "lower"),
    "balanced_accuracy": ("attack balanced accuracy (held-out threshold)", "lower"),
    "tpr_at_fpr_1pct": ("attack TPR at FPR 1%", "lower"),
    "tpr_at_fpr_0_1pct": ("attack TPR at FPR 0.1%", "lower"),
    "epsilon_lower_bound": ("empirical epsilon lower bound (heuristic: one trained model)", "lower"),
}
FPR_KEYS = {0.01: "tpr_at_fpr_1pct", 0.001: "tpr_at_fpr_0_1pct"}
ATTACKS = {"loss": "loss threshold (Yeom et al. 2018)", "calibrated": "reference-calibrated (Watson et al. 2022)"}


class PrivacyParams(PluginParams):
    membership: bool = Field(True, description="run membership-inference attacks on every audited model")
    members: int = Field(500, ge=10, description="members (and as many non-members) audited at most")
    reference_model: bool = Field(
        True,
        description="train a reference model per audited model (without any audited row) for the calibrated attack",
    )
    n_boot: int = Field(1000, ge=0, description="bootstrap resamples for intervals (0: none)")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0
    sweep_min_group_size: int = Field(20, ge=1, description="groups compared in the sweep's parity ratios")


def attack_names(params: PrivacyParams) -> list[str]:
    """The attacks a run makes: the calibrated one needs a reference model."""
    return ["loss", "calibrated"] if params.reference_model else ["loss"]
