"""Template sensitivity: the test split scored under each alternative, equivalent serialisation.

The choice of table-to-text serialisation changes both accuracy and fairness gaps of LLM loan decisions
(Azime et al. 2025, "Accept or Deny? Evaluating LLM Fairness and Performance in Loan Approval across
Table-to-Text Serialization Approaches"). The headline figures (ROC AUC, each attribute's demographic
parity ratio) are recomputed under every template next to the audited one, and every fairness gate on a
parity ratio is re-read under each template: a verdict that changes with an equivalent template rests on
the serialisation, not on the model's treatment of the applicant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmaudit.core.findings import Estimate, finite
from fmaudit.core.intervals import percentile_interval
from fmaudit.data import UNKNOWN_GROUP
from fmaudit.families.behaviour.rates import resampled_ratios
from fmaudit.metrics.gates import parse_gate

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
    threshold: float,
    min_group_size: int,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
    dropped: Sequence[str] = (),
) -> TemplateFigures:
    """ROC AUC and every attribute's parity ratio with a bootstrap interval, for one set of scores."""
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(labels, scores)) if len(set(labels.tolist())) == 2 else None
    decisions = (scores >= threshold).astype(np.float64)
    parity = {}
    for attribute in groups.columns:
        values = groups[attribute].astype(str).to_numpy()
        counts = pd.Series(values).value_counts()
        compared = sorted(g for g, n in counts.items() if n >= min_group_size and g != UNKNOWN_GROUP)
        parity[attribute] = _parity(decisions, values, compared, n_boot=n_boot, confidence=confidence, rng=rng)
    return TemplateFigures(name, finite(auc), parity, tuple(dropped))


def _parity(
    decisions: np.ndarray,
    values: np.ndarray,
    compared: list[str],
    *,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
) -> Estimate:
    """fairlearn's demographic_parity_ratio over the compared groups (smallest / largest selection rate).

    Its interval bootstraps the ratio of the pair of groups that defines it on the full sample: min / max
    recomputed in every resample is <= 1 by construction, and its interval could never contain parity.
    """
    if len(compared) < 2:
        return Estimate(None)
    masks = np.stack([(values == g).astype(np.float64) for g in compared], axis=1)
    rates = (masks * decisions[:, None]).sum(axis=0) / masks.sum(axis=0)
    low, high = int(np.argmin(rates)), int(np.argmax(rates))
    value = finite(rates[low] / rates[high]) if rates[high] > 0 else None
    if n_boot == 0 or value is None:
        return Estimate(value)
    pair = masks[:, [low, high]]
    resampled = resampled_ratios(pair * decisions[:, None], pair, n_boot=n_boot, rng=rng)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = resampled[:, 0] / resampled[:, 1]
    interval = percentile_interval(np.where(np.isfinite(ratios), ratios, np.nan), level=confidence)
    return Estimate(value, interval.low, interval.high)


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
