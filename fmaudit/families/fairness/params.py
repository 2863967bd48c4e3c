"""The fairness plugin's parameters (``audits.fairness``) and the figures it reports."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fmaudit.core.findings import Better
from fmaudit.spec import PluginParams

GROUP_FIGURES: dict[str, tuple[str, Better]] = {
    "count": ("Rows", "none"),
    "base_rate": ("Base rate (favourable label)", "none"),
    "selection_rate": ("Selection rate", "none"),
    "impact_ratio": ("Impact ratio", "higher"),
    "accuracy": ("Accuracy", "higher"),
    "tpr": ("True positive rate", "none"),
    "fpr": ("False positive rate", "none"),
    "fnr": ("False negative rate", "none"),
    "precision": ("Precision", "none"),
    "ece": ("Expected calibration error", "lower"),
    "mean_score": ("Mean score", "none"),
}
REFERENCE_FIGURES: dict[str, tuple[str, Better]] = {
    f"{rate}_{kind}": (
        f"{GROUP_FIGURES[rate][0]} {'minus' if kind == 'difference' else 'over'} the reference's",
        "none",
    )
    for rate in ("selection_rate", "tpr", "fpr")
    for kind in ("difference", "ratio")
}
"""Per group, signed gaps to the attribute's reference group (0 and 1 are parity)."""
TEST_FIGURES = ("p_value", "parity_established")
"""Per group, the tests against the reference group: the corrected p-value of "no gap" and the verdict of the
equivalence test (1 established, 0 not, None undefined)."""
DISPARITY_FIGURES: dict[str, tuple[str, Better]] = {
    "demographic_parity_difference": ("Demographic parity difference", "lower"),
    "demographic_parity_ratio": ("Demographic parity ratio", "higher"),
    "equalized_odds_difference": ("Equalized odds difference", "lower"),
    "equalized_odds_ratio": ("Equalized odds ratio", "higher"),
    "equal_opportunity_difference": ("Equal opportunity difference", "lower"),
    "predictive_parity_difference": ("Predictive parity difference", "lower"),
}
MITIGATION_FIGURES: dict[str, tuple[str, Better]] = {
    "accuracy_change": ("Accuracy change", "higher"),
    "demographic_parity_difference_after": ("Demographic parity difference after", "lower"),
    "equalized_odds_difference_after": ("Equalized odds difference after", "lower"),
}
FOUR_FIFTHS = 0.8


class FairnessParams(PluginParams):
    min_group_size: int = Field(20, ge=1, description="groups with fewer test rows are not compared")
    min_group_share: float = Field(
        0.02, ge=0, lt=1, description="groups below this share of the test split are not compared"
    )
    reference: dict[str, str] = Field(
        default_factory=dict,
        description="attribute -> reference group every other group is measured and tested against; "
        "otherwise the largest compared group",
    )
    n_boot: int = Field(1000, ge=0, description="bootstrap resamples for intervals (0: no intervals)")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0
    alpha: float = Field(
        0.05,
        gt=0,
        lt=0.5,
        description="family-wise significance level of the selection-rate tests, and the level of each "
        "equivalence test",
    )
    parity_margin: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="equivalence margin m: a group's selection parity is established when two one-sided tests "
        "show its selection rate over the reference's inside [m, 1/m]",
    )
    correction: Literal["holm", "bonferroni"] = "holm"
    counterfactual: bool = True
    counterfactual_rows: int = Field(200, ge=1, description="seeded sample of test rows re-scored per attribute")
    mitigation: bool = True
    mitigation_fit_share: float = Field(
        0.5, ge=0.2, le=0.8, description="share of the test split used to fit thresholds"
    )
