"""Representativeness: each group's share of the training and of the test split, with Wilson intervals, against a
declared population; groups too small for the fairness figures; the favourable-label rate by group.

A group is under-represented when its share's whole interval lies more than ``tolerance`` below its population
share (the upper bound < population - tolerance), over-represented when the whole interval lies more than
``tolerance`` above it: a finding the sample establishes, not one its noise could make.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fmaudit.data import UNKNOWN_GROUP
from fmaudit.families.data.audited import AuditedData
from fmaudit.families.data.params import DataParams
from fmaudit.families.data.stats import wilson

Split = Literal["train", "test"]
Verdict = Literal["", "under", "over"]


@dataclass(frozen=True)
class Proportion:
    """Events out of trials, with its Wilson interval."""

    events: int
    trials: int
    low: float | None
    high: float | None

    @property
    def value(self) -> float | None:
        return self.events / self.trials if self.trials else None


def proportions(events: np.ndarray, trials: np.ndarray, *, level: float) -> list[Proportion]:
    """Each events / trials pair with its Wilson interval (None bounds where there are no trials)."""
    low, high = wilson(events, trials, level=level)
    return [
        Proportion(int(e), int(t), None if math.isnan(lo) else float(lo), None if math.isnan(hi) else float(hi))
        for e, t, lo, hi in zip(events, trials, low, high, strict=True)
    ]


@dataclass(frozen=True)
class Share:
    """One group's share of one split, and how it compares with the population's."""

    attribute: str
    group: str
    split: Split
    share: Proportion
    population: float | None
    tolerance: float

    @property
    def gap(self) -> tuple[float | None, float | None, float | None]:
        """Share minus population share, with the interval's bounds shifted alike; None without a population."""
        if self.population is None or self.share.value is None:
            return None, None, None
        low, high = self.share.low, self.share.high
        return (
            self.share.value - self.population,
            None if low is None else low - self.population,
            None if high is None else high - self.population,
        )

    @property
    def verdict(self) -> Verdict:
        _, low, high = self.gap
        if low is None or high is None:
            return ""
        return "under" if high < -self.tolerance else "over" if low > self.tolerance else ""


def shares(audited: AuditedData, attributes: dict[str, list[str]], params: DataParams) -> list[Share]:
    """Every group's share of each split (every group the plan names, empty intersection cells included)."""
    found = []
    for attribute, groups in attributes.items():
        declared = params.population.get(attribute, {})
        for split, rows in (("train", audited.train), ("test", audited.test)):
            counts = audited.groups[attribute].iloc[rows].value_counts()
            events = np.array([int(counts.get(g, 0)) for g in groups])
            for group, share in zip(
                groups, proportions(events, np.full(len(groups), len(rows)), level=params.confidence), strict=True
            ):
                found.append(Share(attribute, group, split, share, declared.get(group), params.tolerance))  # type: ignore[arg-type]
    return found


def smallest_compared(n_test: int, params: DataParams) -> int:
    """The fewest test rows a group needs for the fairness figures: the larger of the two minimums."""
    return max(params.min_group_size, math.ceil(params.min_group_share * n_test))


def small_groups(found: list[Share], params: DataParams) -> list[Share]:
    """Test-split shares of groups with fewer test rows than the fairness figures need (not the missing-value
    group, which fairness never compares)."""
    return [
        s
        for s in found
        if s.split == "test" and s.group != UNKNOWN_GROUP and s.share.events < smallest_compared(s.share.trials, params)
    ]


def base_rates(
    audited: AuditedData, attributes: dict[str, list[str]], *, level: float
) -> dict[str, dict[str, Proportion]]:
    """Each group's favourable-label rate over every row, with its Wilson interval."""
    found = {}
    for attribute, groups in attributes.items():
        frame = audited.groups[attribute]
        favourable = np.array([int(audited.labels[(frame == g).to_numpy()].sum()) for g in groups])
        rows = np.array([int((frame == g).sum()) for g in groups])
        found[attribute] = dict(zip(groups, proportions(favourable, rows, level=level), strict=True))
    return found
