"""One test's outcome over its scored edits: how often the event it looks for happened (a score drop for
monotonicity, a decision flip for invariance), per sensitive group with intervals, and the worst cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmaudit.core.findings import Estimate, finite
from fmaudit.families.behaviour.rates import OVERALL, Slices, sliced_rates
from fmaudit.families.behaviour.scoring import Edit


@dataclass(frozen=True)
class Example:
    """An edited row whose score moved the most the wrong way."""

    row: int
    test: str
    change: str
    before: float
    after: float


@dataclass(frozen=True)
class Outcome:
    """What one test found over its pairs (a sampled row and one edited copy of it)."""

    name: str
    rows: int
    """Sampled rows with at least one edit."""
    pairs: int
    events: int
    rate: dict[tuple[str, str], Estimate]
    """The event's rate per slice (OVERALL first), intervals over row resamples."""
    flips: Estimate
    """Share of pairs whose decision changed."""
    adverse_flips: Estimate
    """Among pairs whose row was decided favourably, the share whose edit turned the decision adverse."""
    mean_abs_change: Estimate
    mean_change: float | None
    examples: tuple[Example, ...]

    @property
    def overall(self) -> Estimate:
        return self.rate[OVERALL]


@dataclass(frozen=True)
class Pairs:
    """Scored edits of one test, with the unedited score of each edit's row."""

    edits: list[Edit]
    before: np.ndarray
    after: np.ndarray


def outcome(
    name: str,
    pairs: Pairs,
    *,
    event: str,
    row_ids: np.ndarray,
    slices: Slices,
    threshold: float,
    tolerance: float,
    examples: int,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
) -> Outcome:
    """Count ``event`` ('drop': score lowered by more than ``tolerance``; 'flip': decision changed) per row
    and per slice; examples are the largest drops (or changes, for flips)."""
    positions = np.array([e.position for e in pairs.edits], dtype=np.int64)
    change = pairs.after - pairs.before
    favourable = pairs.before >= threshold
    flipped = (pairs.after >= threshold) != favourable
    adverse = favourable & (pairs.after < threshold)
    hit = change < -tolerance if event == "drop" else flipped
    n = len(row_ids)

    def per_row(values: np.ndarray) -> np.ndarray:
        return np.bincount(positions, weights=values.astype(np.float64), minlength=n)

    trials = per_row(np.ones(len(positions)))
    stream = np.random.default_rng(rng.integers(2**63))

    def overall(values: np.ndarray, among: np.ndarray | None = None) -> Estimate:
        """The rate of ``values`` over all pairs, or over the pairs ``among`` selects."""
        only = Slices(keys=(OVERALL,), masks=np.ones((n, 1)))
        one_rng = np.random.default_rng(stream.integers(2**63))
        denominator = trials if among is None else per_row(among)
        return sliced_rates(per_row(values), denominator, only, n_boot=n_boot, confidence=confidence, rng=one_rng)[
            OVERALL
        ]

    rates = sliced_rates(per_row(hit), trials, slices, n_boot=n_boot, confidence=confidence, rng=stream)
    ranking = np.argsort(change, kind="stable") if event == "drop" else np.argsort(-np.abs(change), kind="stable")
    shown = [i for i in ranking if hit[i]][:examples]
    return Outcome(
        name=name,
        rows=int((trials > 0).sum()),
        pairs=len(positions),
        events=int(hit.sum()),
        rate=rates,
        flips=overall(flipped),
        adverse_flips=overall(adverse, among=favourable),
        mean_abs_change=overall(np.abs(change)),
        mean_change=finite(change.mean()) if len(change) else None,
        examples=tuple(
            Example(
                row=int(row_ids[positions[i]]),
                test=pairs.edits[i].test,
                change=pairs.edits[i].change,
                before=float(pairs.before[i]),
                after=float(pairs.after[i]),
            )
            for i in shown
        ),
    )
