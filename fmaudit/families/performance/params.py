"""The performance plugin's parameters (``audits.performance``) and the figures it reports."""

from __future__ import annotations

from pydantic import Field

from fmaudit.core.findings import Better
from fmaudit.spec import PluginParams

FIGURES: dict[str, tuple[str, Better]] = {
    "accuracy": ("Accuracy", "higher"),
    "balanced_accuracy": ("Balanced accuracy", "higher"),
    "f1": ("F1 (favourable class)", "higher"),
    "roc_auc": ("ROC AUC", "higher"),
    "ece": ("Expected calibration error", "lower"),
}
BASELINES = {
    "majority": "Majority class",
    "logistic_regression": "Logistic regression (model's fields)",
    "logistic_regression_all_columns": "Logistic regression (all columns)",
}
"""Baseline -> its column title: the logistic regression reads the fields the model reads through the template;
the all-columns one every non-label, non-sensitive column of the data."""
DEGENERACY = ("favourable_rate", "lift_over_majority", "degenerate")
"""Figures comparing the model's decisions with the majority-class baseline's (``degenerate``)."""


class PerformanceParams(PluginParams):
    ece_bins: int = Field(10, ge=2, description="equal-width score bins for the calibration error")
    n_boot: int = Field(1000, ge=0, description="bootstrap resamples of the test rows for intervals (0: none)")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0
    min_decision_share: float = Field(
        0.05,
        ge=0.0,
        lt=0.5,
        description="decisions count as (nearly) constant when fewer than this share go the less frequent way",
    )
