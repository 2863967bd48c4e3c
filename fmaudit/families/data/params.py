"""The data plugin's parameters (``audits.data``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from fmaudit.spec import PluginParams

SHARE_SUM_TOLERANCE = 0.01
"""How far a declared population's shares may sum from 1 (rounded census figures)."""


class DataParams(PluginParams):
    population: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="attribute -> group -> its share of the population the system is used on (e.g. from a census "
        "table); each attribute's shares sum to 1. Groups not listed are not judged",
    )
    tolerance: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="a group is under- (over-) represented when its share's whole interval lies more than this "
        "below (above) its population share",
    )
    min_group_size: int = Field(
        20, ge=1, description="groups with fewer test rows are too small for the fairness figures (as fairness's)"
    )
    min_group_share: float = Field(
        0.02, ge=0, lt=1, description="groups below this share of the test split are too small (as fairness's)"
    )
    ranges: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="numeric column -> [min, max]: values outside are errors"
    )
    near_constant: float = Field(
        0.99, gt=0.5, lt=1, description="a column whose most frequent value holds at least this share is near-constant"
    )
    missing_gap: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="a column's missing share must differ by at least this much between two groups (and the "
        "difference be significant) to count as missing more often for one group",
    )
    leak_roc_auc: float = Field(
        0.95, gt=0.5, le=1, description="a column whose cross-validated ROC AUC for the label reaches this is a leak"
    )
    folds: int = Field(5, ge=2, description="cross-validation folds of the single-column leak check")
    shift: float = Field(
        0.1,
        gt=0,
        description="a column has shifted between the splits when its stability index's lower bound exceeds this "
        "(0.1: the industry's 'stable' band)",
    )
    n_boot: int = Field(1000, ge=100, description="bootstrap resamples of the stability index's interval")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    alpha: float = Field(
        0.05, gt=0, lt=0.5, description="family-wise level (Holm) of the missingness and the two-sample tests"
    )
    seed: int = 0

    @field_validator("ranges")
    @classmethod
    def _ordered(cls, ranges: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        backwards = [column for column, (low, high) in ranges.items() if low > high]
        if backwards:
            raise ValueError(f"expected [min, max] with min <= max; got min > max for {', '.join(backwards)}")
        return ranges
