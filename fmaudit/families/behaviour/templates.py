"""Template sensitivity: the test split scored under each alternative, equivalent serialisation.

The choice of table-to-text serialisation changes both accuracy and fairness gaps of LLM loan decisions
(Azime et al. 2025, "Accept or Deny? Evaluating LLM Fairness and Performance in Loan Approval across
Table-to-Text Serialization Approaches"). The headline figures (ROC AUC, each attribute's demographic parity
ratio) are recomputed under every template next to the audited one (whose parity ratios are the fairness
section's own where it ran: the figure its gates read), with the fairness section's definitions and intervals,
and every fairness gate on a parity ratio is re-read under each template: a verdict that changes with an
equivalent template rests on the serialisation, not on the model's treatment of the applicant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmaudit.core.findings import Estimate, finite
from fmaudit.core.intervals import resample_cell_counts
from fmaudit.data import UNKNOWN_GROUP
from fmaudit.metrics import confusion, simultaneous
from fmaudit.metrics.gates import parse_gate
from fmaudit.metrics.parity import excluded_groups, extreme_pair

AUDITED = "audited"
"""The name under which the audited template's own figures are listed."""
PARITY = "demographic_parity_ratio"


@dataclass(frozen=True)
class TemplateFigures:
    """The headline figures of the test split scored under one template."""

    name: str
    roc_auc: float | None
    parity: dict[str, Estimate]
    """Attribute -> demographic parity ratio (min / max selection rate over compared groups)."""
    dropped: tuple[str, ...] = ()
    """Fields of the audited template this template leaves out."""


@dataclass(frozen=True)
class GateReading:
    """One fairness gate read under every template."""

    gate: str
    observed: dict[str, float | None]
    """Template name -> the figure the gate reads."""
    verdicts: dict[str, bool | None]

    @property
    def changes(self) -> bool:
        return len({v for v in self.verdicts.values() if v is not None}) > 1


def headline_figures(
    name: str,
    *,
    labels: np.ndarray,
    scores: np.ndarray,
    groups: pd.DataFrame,
    attributes: dict[str, list[str]],
    threshold: float,
    min_size: int,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
    dropped: Sequence[str] = (),
    known: dict[str, Estimate] | None = None,
) -> TemplateFigures:
    """ROC AUC and every attribute's parity ratio with its interval, for one set of scores; ``known`` holds
    ratios already measured on these scores (the fairness section's, on the audited template), taken as they are
    so one figure has one number."""
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(labels, scores)) if len(set(labels.tolist())) == 2 else None
    decisions = (scores >= threshold).astype(np.int64)
    parity = {
        attribute: (known or {}).get(attribute)
        or _parity(
            labels,
            decisions,
            groups[attribute],
            attributes.get(attribute, []),
            min_size=min_size,
            n_boot=n_boot,
            confidence=confidence,
            rng=rng,
        )
        for attribute in groups.columns
    }
    return TemplateFigures(name, finite(auc), parity, tuple(dropped))


def _parity(
    labels: np.ndarray,
    decisions: np.ndarray,
    groups: pd.Series,
    planned: list[str],
    *,
    min_size: int,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
) -> Estimate:
    """fairlearn's demographic_parity_ratio over the compared groups (smallest / largest selection rate), with the
    fairness section's interval: simultaneous over every pair of compared groups (``fmaudit.metrics.simultaneous``),
    so it allows for the pair being picked on the sample and reaches parity where there is none."""
    values = groups.astype(str).to_numpy()
    names = list(dict.fromkeys([*planned, *sorted(set(values.tolist()))]))
    codes = pd.Categorical(values, categories=names).codes
    counts = confusion.confusion_counts(codes, labels, decisions, n_groups=len(names))
    excluded = excluded_groups(names, counts.sum(axis=1), min_size=min_size, unknown=UNKNOWN_GROUP)
    eligible = np.array([name not in excluded for name in names])
    value = finite(extreme_pair(confusion.rates(counts), PARITY, eligible=eligible)[0])
    if n_boot == 0 or value is None:
        return Estimate(value)
    drawn = resample_cell_counts(counts, n_boot=n_boot, rng=rng)
    family = simultaneous.pair_bounds(counts, drawn, PARITY, eligible=eligible, level=confidence)
    bounds = simultaneous.summary_bounds(family, PARITY)
    return Estimate(value, finite(bounds.low), finite(bounds.high))


def fairness_gate_readings(gates: Sequence[str], figures: Sequence[TemplateFigures]) -> list[GateReading]:
    """Every declared gate on a parity ratio (point or interval bound), read under each template."""
    readings = []
    for text in gates:
        gate = parse_gate(text)
        parts = gate.metric_path.split(".")
        if len(parts) != 3 or parts[0] != "fairness" or parts[2] != PARITY:
            continue
        observed: dict[str, float | None] = {}
        for figure in figures:
            estimate = figure.parity.get(parts[1], Estimate(None))
            observed[figure.name] = estimate.value if gate.bound is None else getattr(estimate, gate.bound)
        verdicts = {n: None if v is None else gate.holds(v) for n, v in observed.items()}
        readings.append(GateReading(text.strip(), observed, verdicts))
    return readings


def spread(values: Sequence[float | None]) -> float | None:
    """Largest minus smallest of the defined values (descriptive: it is >= 0 by construction)."""
    defined = [v for v in values if v is not None]
    return max(defined) - min(defined) if len(defined) > 1 else None
