"""The spread across training seeds: the audited model's figures next to the same figures of models trained
with other seeds, and whether any gate's verdict rests on the seed.

A figure measured on one training run can be an accident of its seed (D'Amour et al. 2020, underspecification).
``training.seed_replicas: N`` trains N more models (seeds seed+1 .. seed+N, same data, split and settings); the
pipeline audits each with the same plugins and hands their findings here. This module only aggregates: the
min / median / max over the replicas of each headline and gated figure, ``<path>.replica_min`` /
``<path>.replica_max`` as metrics that gates can read, and each gate re-evaluated on every replica's findings.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from fmaudit.core.findings import Better, Findings, Metric
from fmaudit.metrics.gates import Gate, GateResult, evaluate

REPLICA_BOUNDS = ("replica_min", "replica_max")
"""Suffixes of the gateable spread figures: ``performance.roc_auc.replica_min``."""

CITATION = (
    "D'Amour et al. 2020, 'Underspecification presents challenges for credibility in modern machine learning' "
    "(arXiv:2011.03395): models equally good on held-out data can differ in fairness, robustness and more."
)


SAME_VERDICT_CONFIDENCE_TAIL = 0.05
"""One minus the confidence of the bound printed beside "same on k of k seeds"."""


def replica_paths(paths: Iterable[str]) -> list[str]:
    """The spread metrics a run with replicas can produce for ``paths`` (declared at plan time, for gates)."""
    return [f"{path}.{bound}" for path in paths for bound in REPLICA_BOUNDS]


def spread_base(path: str) -> str:
    """``performance.roc_auc`` for ``performance.roc_auc.replica_min``; other paths unchanged."""
    head, _, tail = path.rpartition(".")
    return head if tail in REPLICA_BOUNDS else path


@dataclass(frozen=True)
class Replica:
    """One model trained with another seed, and what the plugins found on it."""

    seed: int
    findings: Findings
    cache_key: str
    weights_sha256: str
    from_cache: bool
    training_seconds: float


@dataclass(frozen=True)
class GateCheck:
    """One spec gate evaluated on the audited model and on every replica (the value it reads may be an
    interval bound, so it is kept beside the verdict)."""

    gate: str
    audited: GateResult
    replicas: tuple[GateResult | None, ...]
    """One per replica, in seed order; None where the replica does not produce the figure (not comparable)."""

    def flipped(self, seeds: Sequence[int]) -> list[tuple[int, GateResult]]:
        """The replicas (seed, result) on which this gate's verdict differs from the audited model's."""
        return [
            (seed, result)
            for seed, result in zip(seeds, self.replicas, strict=True)
            if result is not None and result.passed != self.audited.passed
        ]


@dataclass(frozen=True)
class SpreadRow:
    """One figure: the audited model's value and its values on the replicas (None where not measured)."""

    path: str
    label: str
    better: Better
    audited: float | None
    values: tuple[float | None, ...]
    """One per replica, in seed order."""
    seeds: tuple[int, ...]
    checks: tuple[GateCheck, ...]
    """The spec's gates on this figure (point estimate or interval bound; not the spread gates themselves)."""
    note: str = ""

    @property
    def gates(self) -> tuple[str, ...]:
        return tuple(check.gate for check in self.checks)

    @property
    def flipped_seeds(self) -> tuple[int, ...]:
        """Replicas on which one of the gates would give another verdict than on the audited model."""
        flipped = {seed for check in self.checks for seed, _ in check.flipped(self.seeds)}
        return tuple(seed for seed in self.seeds if seed in flipped)

    @property
    def measured(self) -> list[float]:
        return [v for v in self.values if v is not None]

    @property
    def min(self) -> float | None:
        return min(self.measured) if self.measured else None

    @property
    def median(self) -> float | None:
        return float(np.median(self.measured)) if self.measured else None

    @property
    def max(self) -> float | None:
        return max(self.measured) if self.measured else None

    @property
    def verdict_differs(self) -> bool:
        return bool(self.flipped_seeds)

    @property
    def verdict(self) -> str:
        """What the gates on this figure did across seeds: "differs", "same", "not comparable" (no replica
        produces the figure) or "not gated"."""
        if not self.checks:
            return "not gated"
        if self.verdict_differs:
            return "differs"
        comparable = any(result is not None for check in self.checks for result in check.replicas)
        return "same" if comparable else "not comparable"

    @property
    def verdict_text(self) -> str:
        """The verdict as the report prints it. "Same" is "k of k seeds" with the one-sided 95% upper bound on
        the chance that a new seed changes it (0 changes in k: 1 − 0.05^(1/k), 53% at k = 4): a spread over a
        few replicas is not evidence that the verdict cannot move."""
        if self.verdict == "differs":
            return f"differs on seed {', '.join(map(str, self.flipped_seeds))}"
        if self.verdict != "same":
            return self.verdict
        k = sum(any(check.replicas[i] is not None for check in self.checks) for i in range(len(self.seeds)))
        bound = 1.0 - SAME_VERDICT_CONFIDENCE_TAIL ** (1.0 / k)
        return (
            f"same on {k} of {k} seeds; a new seed could still change it with probability up to {bound:.0%} "
            "(one-sided 95% bound)"
        )


@dataclass(frozen=True)
class SeedSpread:
    """The figures' spread over the seed replicas, and what it means for the gates."""

    audited_seed: int
    replicas: tuple[Replica, ...]
    rows: tuple[SpreadRow, ...]
    notes: tuple[str, ...]

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.seed for r in self.replicas)

    def metrics(self) -> dict[str, Metric]:
        """``<path>.replica_min`` / ``.replica_max`` of every row, by path (what gates on them read)."""
        found: dict[str, Metric] = {}
        n = len(self.replicas)
        for row in self.rows:
            unmeasured = [seed for seed, value in zip(row.seeds, row.values, strict=True) if value is None]
            # A bound over the replicas is undefined when any replica is: a gate on it then fails with this reason.
            note = (
                f"undefined: not measured on {len(unmeasured)} of {n} replicas (seed {', '.join(map(str, unmeasured))})"
                if unmeasured
                else ""
            )
            bounds = (("replica_min", row.min, "lowest"), ("replica_max", row.max, "highest"))
            for bound, value, word in bounds:
                path = f"{row.path}.{bound}"
                label = f"{row.label}: {word} over {n} seed replicas"
                found[path] = Metric(path, None if unmeasured else value, label, row.better, note=note)
        return found

    def to_dict(self) -> dict[str, Any]:
        """findings.json's ``replicas`` section (the report renders it; it computes nothing); ``metrics`` holds the
        gateable figures under the paths gates use, ``<plugin path>.replica_min`` / ``.replica_max``."""
        return {
            "audited_seed": self.audited_seed,
            "seeds": list(self.seeds),
            "models": [{k: v for k, v in asdict(r).items() if k != "findings"} for r in self.replicas],
            "rows": [
                {
                    "path": row.path,
                    "label": row.label,
                    "better": row.better,
                    "audited": row.audited,
                    "values": list(row.values),
                    "min": row.min,
                    "median": row.median,
                    "max": row.max,
                    "gates": list(row.gates),
                    "verdict": row.verdict,
                    "verdict_text": row.verdict_text,
                    "verdict_differs": row.verdict_differs,
                    "flipped_seeds": list(row.flipped_seeds),
                    "gate_checks": [
                        {
                            "gate": check.gate,
                            "audited": {"observed": check.audited.observed, "passed": check.audited.passed},
                            "replicas": [
                                None if r is None else {"observed": r.observed, "passed": r.passed}
                                for r in check.replicas
                            ],
                            "flipped": [
                                {"seed": seed, "observed": r.observed, "passed": r.passed}
                                for seed, r in check.flipped(row.seeds)
                            ],
                        }
                        for check in row.checks
                    ],
                    "note": row.note,
                }
                for row in self.rows
            ],
            "metrics": {
                path: {"value": m.value, "label": m.label, "better": m.better, **({"note": m.note} if m.note else {})}
                for path, m in self.metrics().items()
            },
            "seed_dependent_gates": sorted({g for row in self.rows if row.verdict_differs for g in row.gates}),
            "notes": list(self.notes),
        }


def with_spread_cautions(
    results: Sequence[GateResult], spread: SeedSpread, audited: dict[str, Metric]
) -> list[GateResult]:
    """The gate results, each noted where its figure's spread over the audited model and its replicas is wider
    than the figure's interval: the interval covers the test sample's randomness, not the training's (the seed,
    and fresh DP noise), so the verdict may not hold for another training run of the same spec."""
    rows = {row.path: row for row in spread.rows}
    cautions = [_spread_caution(rows.get(spread_base(r.gate.metric_path)), audited) for r in results]
    return [replace(r, caution=c) if c else r for r, c in zip(results, cautions, strict=True)]


def _spread_caution(row: SpreadRow | None, audited: dict[str, Metric]) -> str:
    """The caution for a gate on ``row``'s figure; empty without replicas' values or an interval to compare."""
    metric = audited.get(row.path) if row else None
    values = [v for v in row.values if v is not None] if row else []
    if not values or metric is None or None in (metric.value, metric.ci_low, metric.ci_high):
        return ""
    assert metric.value is not None and metric.ci_low is not None and metric.ci_high is not None
    width, extent = metric.ci_high - metric.ci_low, max([*values, metric.value]) - min([*values, metric.value])
    if extent <= width:
        return ""
    return (
        f"spread over the audited model and {len(values)} seed replicas ({extent:.3g}) is wider than this "
        f"figure's interval ({width:.3g}): another training run may give another verdict"
    )


def seed_spread(
    audited: Findings,
    replicas: Sequence[Replica],
    gates: Sequence[Gate],
    *,
    audited_seed: int,
    private: bool,
    headline: Collection[str] = (),
) -> SeedSpread:
    """The spread of the ``headline`` figures (the plugins' ``headline_paths``) and the gated figures over
    ``replicas``; each gate on a figure is evaluated on
    every replica's findings and compared with its verdict on the audited model."""
    audited_metrics = audited.metrics()
    replica_metrics = [r.findings.metrics() for r in replicas]
    figure_gates = [g for g in gates if spread_base(g.metric_path) == g.metric_path]
    gated = [spread_base(g.metric_path) for g in gates]
    headlines = set(headline)
    paths = [p for p in audited_metrics if p in headlines]
    paths += [p for p in dict.fromkeys(gated) if p not in paths]
    rows = []
    for path in paths:
        on_path = [g for g in figure_gates if g.metric_path == path]
        values = tuple(m[path].value if path in m else None for m in replica_metrics)
        produced = sum(path in m for m in replica_metrics)
        reference = audited_metrics.get(path)
        rows.append(
            SpreadRow(
                path=path,
                label=reference.label if reference else path,
                better=reference.better if reference else "none",
                audited=reference.value if reference else None,
                values=values,
                seeds=tuple(r.seed for r in replicas),
                checks=tuple(_check(gate, audited_metrics, replica_metrics) for gate in on_path),
                note="" if produced == len(replicas) else _absence(produced, len(replicas)),
            )
        )
    notes = [
        f"{len(replicas)} more models trained with seeds {', '.join(str(r.seed) for r in replicas)} (the audited "
        f"model: seed {audited_seed}) on the same data, split and settings, each audited by the same plugins. "
        "Min, median and max are over these replicas (the audited model is not among them); a flag marks a "
        "figure on which a gate would give another verdict on some replica than on the audited model.",
        f"Why: {CITATION}",
    ]
    if private:
        notes.append(
            "Under DP-SGD each replica draws its own noise (fresh from OS entropy, or from its seed with "
            "reproducible_noise), so this spread contains the DP noise as well as the seed's initialisation and "
            "batch order."
        )
    return SeedSpread(audited_seed, tuple(replicas), tuple(rows), tuple(notes))


def _check(gate: Gate, audited: dict[str, Metric], replicas: list[dict[str, Metric]]) -> GateCheck:
    """``gate`` on the audited model and on each replica. A replica that does not produce the figure at all
    (e.g. a comparison with the twin, which replicas do not get) is not comparable: None, never a flag."""
    [on_audited] = evaluate([gate], audited)
    on_replicas = tuple(evaluate([gate], m)[0] if gate.metric_path in m else None for m in replicas)
    return GateCheck(gate.text, on_audited, on_replicas)


def _absence(produced: int, total: int) -> str:
    if produced == 0:
        return "not produced on the replicas (they are audited alone, without the twin or sweep models)"
    return f"produced on {produced} of {total} replicas"
