"""Is the model better than deciding the same for everyone?

A model that approves (nearly) everyone can score a fine accuracy and ROC AUC and pass every fairness gate
(equal rates for all groups), while it has learned nothing a decision needs. Against the majority-class
baseline, whose balanced accuracy is 0.5 by construction, two checks flag such a model: its decisions are
(nearly) constant, or its balanced accuracy interval still holds 0.5. Both are gateable figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmaudit.core.findings import Metric
from fmaudit.core.intervals import Interval

MAJORITY_BALANCED_ACCURACY = 0.5
"""A constant decision is right on every row of one class and wrong on every row of the other."""


@dataclass(frozen=True)
class Degeneracy:
    """How far a model's decisions are from the majority-class baseline's."""

    favourable_rate: float
    minority_decision_share: float
    min_decision_share: float
    lift: float | None
    """Balanced accuracy minus the majority baseline's (0.5); None where balanced accuracy is undefined."""
    lift_interval: Interval | None

    @property
    def constant(self) -> bool:
        """Fewer than ``min_decision_share`` of the decisions go the less frequent way."""
        return self.minority_decision_share < self.min_decision_share

    @property
    def like_majority(self) -> bool:
        """The balanced accuracy interval holds the majority's 0.5 (without one: the estimate is at most 0.5)."""
        if self.lift is None:
            return False
        low = self.lift_interval.low if self.lift_interval is not None else None
        return (low if low is not None else self.lift) <= 0.0

    @property
    def flagged(self) -> bool:
        return self.constant or self.like_majority


def assess(
    decisions: np.ndarray,
    balanced_accuracy: float | None,
    balanced_accuracy_interval: Interval | None,
    *,
    min_decision_share: float,
) -> Degeneracy:
    """Compare the model's decisions and balanced accuracy (with its bootstrap interval) with the majority's."""
    rate = float(np.mean(decisions)) if len(decisions) else 0.0
    lift = None if balanced_accuracy is None else balanced_accuracy - MAJORITY_BALANCED_ACCURACY
    interval = None
    if lift is not None and balanced_accuracy_interval is not None:
        shift = [
            None if bound is None else bound - MAJORITY_BALANCED_ACCURACY
            for bound in (balanced_accuracy_interval.low, balanced_accuracy_interval.high)
        ]
        interval = Interval(shift[0], shift[1], balanced_accuracy_interval.undefined_share)
    return Degeneracy(rate, min(rate, 1.0 - rate), min_decision_share, lift, interval)


def degeneracy_metrics(result: Degeneracy) -> list[Metric]:
    """``performance.favourable_rate``, ``performance.lift_over_majority`` (with its interval) and
    ``performance.degenerate`` (1 = flagged), the figures a gate set needs to fail a majority-like model."""
    interval = result.lift_interval
    return [
        Metric(
            "performance.favourable_rate",
            result.favourable_rate,
            "Share of favourable decisions",
            "none",
        ),
        Metric(
            "performance.lift_over_majority",
            result.lift,
            "Balanced accuracy above the majority-class baseline's 0.5",
            "higher",
            ci_low=interval.low if interval is not None else None,
            ci_high=interval.high if interval is not None else None,
            note="" if result.lift is not None else "undefined: the test split holds one class",
        ),
        Metric(
            "performance.degenerate",
            float(result.flagged),
            "Degenerate model: (nearly) constant decisions or no better than the majority class (1 = yes)",
            "lower",
        ),
    ]


def degeneracy_sentence(result: Degeneracy) -> str:
    """One sentence for the summary: the verdict and why."""
    reasons = []
    if result.constant:
        reasons.append(
            f"only {result.minority_decision_share:.1%} of its decisions differ from the most frequent one "
            f"(below {result.min_decision_share:.0%})"
        )
    if result.like_majority:
        reasons.append("its balanced accuracy interval holds the majority-class baseline's 0.5")
    if reasons:
        return "DEGENERATE MODEL: " + " and ".join(reasons) + "; it has not shown it learned the task."
    interval = result.lift_interval
    bounds = f" [{interval.low:+.3f}, {interval.high:+.3f}]" if interval and interval.low is not None else ""
    lift = f"{result.lift:+.3f}{bounds}" if result.lift is not None else "n/a"
    return (
        f"Balanced accuracy above the majority-class baseline: {lift}; "
        f"{result.favourable_rate:.1%} favourable decisions."
    )
