"""The monitor's figures: how the current rows' scores, fields, performance and group selection rates stand
against the audited run's test split, each with an interval and, where the run has the same figure, the change.

Stability indices (``fmaudit.metrics.drift``) carry the basic bootstrap interval, whose lower bound reaches 0
when nothing moved; rates and the parity ratio a percentile bootstrap (groups' rates drawn binomially, so a
million rows cost what a hundred do); performance figures resample rows (``fmaudit.metrics.scores``). The
parity ratio's pair of groups is re-chosen in every resample, which puts its interval below the estimate
(``fmaudit.metrics.parity``): read its change together with the per-group rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmaudit.core.findings import Bar, BarChart, Better, Estimate, Metric, PluginFindings, Table, finite, metric_key
from fmaudit.core.intervals import percentile_interval, row_cell_counts, stream
from fmaudit.data import UNKNOWN_GROUP
from fmaudit.data.current import Unseen
from fmaudit.metrics.drift import SHIFTED, STABLE, Drift, interval, stability_index
from fmaudit.metrics.parity import demographic_parity_ratio, excluded_groups
from fmaudit.metrics.scores import resampled_figures, score_figures
from fmaudit.spec import MonitorSpec

LEVEL = 0.95
ECE_BINS = 10
"""Equal-width score bins of the calibration error, as the performance family's default."""
PERFORMANCE: dict[str, tuple[str, Better]] = {
    "accuracy": ("Accuracy", "higher"),
    "balanced_accuracy": ("Balanced accuracy", "higher"),
    "f1": ("F1", "higher"),
    "roc_auc": ("ROC AUC", "higher"),
    "ece": ("Expected calibration error", "lower"),
}


@dataclass(frozen=True)
class Sample:
    """One side of the comparison: the scored rows' fields, scores, labels (None: unlabelled) and groups."""

    fields: pd.DataFrame
    scores: np.ndarray
    labels: np.ndarray | None
    groups: pd.DataFrame


def monitor_findings(
    reference: Sample,
    current: Sample,
    *,
    settings: MonitorSpec,
    threshold: float,
    unseen: tuple[Unseen, ...] = (),
) -> PluginFindings:
    """Every monitor figure under ``monitor.*``, the tables and the PSI chart, as one section of findings."""
    score = stability_index(pd.Series(reference.scores), pd.Series(current.scores))
    fields = {name: stability_index(reference.fields[name], current.fields[name]) for name in reference.fields}
    paths = {name: f"monitor.fields.{metric_key(name)}.psi" for name in fields}
    bounds = {name: _interval(drift, settings, paths[name]) for name, drift in fields.items()}
    metrics = [
        Metric(
            "monitor.score.psi",
            score.value,
            "Score PSI",
            "lower",
            *_interval(score, settings, "monitor.score.psi"),
            note=score.band,
        )
    ]
    metrics += [
        Metric(paths[name], drift.value, f"{name} PSI", "lower", *bounds[name], note=drift.band)
        for name, drift in fields.items()
    ]
    metrics += _selection(reference, current, threshold=threshold, settings=settings)
    tables = [_score_table(score), _fields_table(fields, bounds, unseen)]
    if unseen:
        tables.append(
            Table(
                "Values the run never saw",
                ("Column", "Values", "Current rows"),
                tuple(
                    (u.column, ", ".join(u.values[:10]) + (" …" if len(u.values) > 10 else ""), u.rows) for u in unseen
                ),
                note="Scored as the model scores any value it was not trained on (a tabular model: no category "
                "set); a sensitive value the run's map or bins do not cover falls in the unknown group.",
            )
        )
    performance, table = _performance(reference, current, threshold=threshold, settings=settings)
    metrics += performance
    tables += [table] if table is not None else []
    fairness, fairness_table = _fairness(reference, current, threshold=threshold, settings=settings)
    metrics += fairness
    tables.append(fairness_table)
    chart = BarChart(
        "PSI by field (bars: 95% basic bootstrap interval)",
        tuple(
            Bar(name, drift.value, drift.band if drift.band != "stable" else "", *bounds[name])
            for name, drift in sorted(fields.items(), key=lambda item: -item[1].value)
        ),
        reference=SHIFTED,
        note=f"PSI below {STABLE:g} is stable, {STABLE:g} to {SHIFTED:g} worth watching, above {SHIFTED:g} a shift.",
    )
    return PluginFindings(
        plugin="monitor",
        title="Monitoring against the audited run",
        summary=_summary(score, fields, current),
        metrics=tuple(metrics),
        tables=tuple(tables),
        charts=(chart,),
        notes=(
            f"Reference: the run's test split ({len(reference.scores)} rows), rescored with the audited model; "
            f"current: {len(current.scores)} rows.",
            "PSI (Siddiqi 2006) over the reference's deciles, a category a bin of its own; its interval is the basic "
            "bootstrap, whose lower bound, not the estimate, says whether a shift is there.",
            "Rates and the parity ratio: 95% percentile bootstrap; performance: rows resampled (as cell counts).",
        ),
    )


def _interval(drift: Drift, settings: MonitorSpec, path: str) -> tuple[float, float]:
    """The index's basic bootstrap interval, from the figure's own stream."""
    return interval(drift, n_boot=settings.n_boot, level=LEVEL, seed=int(stream(settings.seed, path).integers(2**32)))


def _score_table(score: Drift) -> Table:
    ref, cur = score.reference_counts, score.current_counts
    return Table(
        "Score distribution over the run's score deciles",
        ("Score bin", "Run share", "Current share"),
        tuple(
            (label, round(float(r / max(ref.sum(), 1)), 4), round(float(c / max(cur.sum(), 1)), 4))
            for label, r, c in zip(score.bins, ref, cur, strict=True)
            if r or c
        ),
    )


def _fields_table(
    fields: dict[str, Drift], bounds: dict[str, tuple[float, float]], unseen: tuple[Unseen, ...]
) -> Table:
    new = {u.column: u.rows for u in unseen}
    rows = [
        (
            name,
            "numeric" if drift.numeric else "categorical",
            Estimate(drift.value, *bounds[name]),
            drift.band,
            new.get(name, 0),
        )
        for name, drift in sorted(fields.items(), key=lambda item: -item[1].value)
    ]
    return Table(
        "Stability of each input field (largest shift first)",
        ("Field", "Kind", "PSI [95% interval]", "Band", "Rows with unseen values"),
        tuple(rows),
    )


def _selection(reference: Sample, current: Sample, *, threshold: float, settings: MonitorSpec) -> list[Metric]:
    """The share of favourable decisions, now and its change."""
    rng = stream(settings.seed, "monitor.score.selection_rate")
    ref = _rates(
        np.array([int((reference.scores >= threshold).sum())]), np.array([len(reference.scores)]), settings, rng
    )
    cur = _rates(np.array([int((current.scores >= threshold).sum())]), np.array([len(current.scores)]), settings, rng)
    return _with_change(
        "monitor.score.selection_rate",
        "Selection rate",
        "none",
        cur.value[0],
        cur.draws[:, 0],
        ref.value[0],
        ref.draws[:, 0],
    )


@dataclass(frozen=True)
class _Rates:
    value: np.ndarray
    draws: np.ndarray


def _rates(events: np.ndarray, trials: np.ndarray, settings: MonitorSpec, rng: np.random.Generator) -> _Rates:
    """Per-group rates and their binomial bootstrap draws (``n_boot`` x groups; NaN for an empty group)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(trials > 0, events / np.maximum(trials, 1), np.nan)
        draws = rng.binomial(trials, np.nan_to_num(value), size=(settings.n_boot, len(trials))) / trials
    return _Rates(value, np.where(trials > 0, draws, np.nan))


def _with_change(
    path: str,
    label: str,
    better: Better,
    value: float | None,
    draws: np.ndarray,
    before: float | None,
    before_draws: np.ndarray,
) -> list[Metric]:
    """A figure with its interval, and its change against the run's with the interval of the difference."""
    now = percentile_interval(draws, level=LEVEL)
    metrics = [Metric(path, finite(value), label, better, now.low, now.high)]
    if value is None or before is None or not np.isfinite(value) or not np.isfinite(before):
        return metrics
    change = percentile_interval(draws - before_draws, level=LEVEL)
    note = f"run {before:.4g}, now {value:.4g}"
    return [
        *metrics,
        Metric(
            f"{path}.change",
            finite(value - before),
            f"{label}: change against the run",
            better,
            change.low,
            change.high,
            note,
        ),
    ]


def _performance(
    reference: Sample, current: Sample, *, threshold: float, settings: MonitorSpec
) -> tuple[list[Metric], Table | None]:
    """Performance and calibration on labelled current rows, against the run's test split."""
    if current.labels is None or reference.labels is None:
        return [], None
    rng = stream(settings.seed, "monitor.performance")

    def figures(labels: np.ndarray, scores: np.ndarray) -> tuple[dict[str, float | None], np.ndarray]:
        """The figures and their resamples (``n_boot`` x figures), the resamples as cell counts."""
        values, which = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
        cells = 2 * which.reshape(-1) + np.asarray(labels, dtype=np.int64)
        chunks = [
            resampled_figures(counts.reshape(len(counts), -1, 2), values, threshold=threshold, ece_bins=ECE_BINS)
            for counts in row_cell_counts(cells, n_cells=2 * len(values), n_boot=settings.n_boot, rng=rng)
        ]
        draws = np.column_stack([np.concatenate([c[name] for c in chunks]) for name in PERFORMANCE])
        return score_figures(labels, scores, threshold=threshold, ece_bins=ECE_BINS), draws

    before, before_draws = figures(reference.labels, reference.scores)
    now, now_draws = figures(current.labels, current.scores)
    metrics: list[Metric] = []
    rows = []
    for i, (name, (label, better)) in enumerate(PERFORMANCE.items()):
        found = _with_change(
            f"monitor.performance.{name}", label, better, now[name], now_draws[:, i], before[name], before_draws[:, i]
        )
        metrics += found
        cells = [Estimate(m.value, m.ci_low, m.ci_high) for m in found]
        rows.append((label, before[name], *cells, *([None] * (2 - len(cells)))))
    table = Table(
        "Performance and calibration on the labelled current rows",
        ("Figure", "Run", "Current [95% interval]", "Change [95% interval]"),
        tuple(rows),
    )
    return metrics, table


def _fairness(
    reference: Sample, current: Sample, *, threshold: float, settings: MonitorSpec
) -> tuple[list[Metric], Table]:
    """Selection rate per group and the demographic parity ratio per attribute, now and against the run."""
    metrics: list[Metric] = []
    rows = []
    for attribute in current.groups.columns:
        key = metric_key(attribute)
        rng = stream(settings.seed, "monitor.fairness", attribute)
        names = sorted(set(reference.groups[attribute]) | set(current.groups[attribute]))
        sides = [_group_rates(sample, attribute, names, threshold, settings, rng) for sample in (reference, current)]
        (ref_sizes, ref), (cur_sizes, cur) = sides
        for g, name in enumerate(names):
            path = f"monitor.fairness.{key}.groups.{metric_key(name)}.selection_rate"
            found = _with_change(
                path,
                f"{attribute} = {name}: selection rate",
                "none",
                cur.value[g],
                cur.draws[:, g],
                ref.value[g],
                ref.draws[:, g],
            )
            metrics += found
            cells = [Estimate(m.value, m.ci_low, m.ci_high) for m in found]
            rows.append(
                (
                    attribute,
                    name,
                    int(ref_sizes[g]),
                    int(cur_sizes[g]),
                    finite(ref.value[g]),
                    *cells,
                    *([None] * (2 - len(cells))),
                )
            )
        ratios = [
            (_ratio(sample, attribute, names, threshold, settings), _ratio_draws(rates, sizes, names, settings))
            for sample, (sizes, rates) in zip((reference, current), sides, strict=True)
        ]
        (before, before_draws), (now, now_draws) = ratios
        metrics += _with_change(
            f"monitor.fairness.{key}.demographic_parity_ratio",
            f"{attribute}: demographic parity ratio",
            "higher",
            now,
            now_draws,
            before,
            before_draws,
        )
    table = Table(
        "Selection rate by group",
        (
            "Attribute",
            "Group",
            "Run rows",
            "Current rows",
            "Run rate",
            "Current rate [95% interval]",
            "Change [95% interval]",
        ),
        tuple(rows),
        note=f"Groups with fewer than {settings.min_group_size} rows, and the unknown group, are left out of the "
        "parity ratio.",
    )
    return metrics, table


def _group_rates(
    sample: Sample,
    attribute: str,
    names: list[str],
    threshold: float,
    settings: MonitorSpec,
    rng: np.random.Generator,
) -> tuple[np.ndarray, _Rates]:
    frame = pd.DataFrame({"group": sample.groups[attribute].to_numpy(), "chosen": sample.scores >= threshold})
    counts = frame.groupby("group")["chosen"].agg(["sum", "count"]).reindex(names, fill_value=0)
    trials = counts["count"].to_numpy()
    return trials, _rates(counts["sum"].to_numpy(), trials, settings, rng)


def _ratio(sample: Sample, attribute: str, names: list[str], threshold: float, settings: MonitorSpec) -> float | None:
    return demographic_parity_ratio(
        (sample.scores >= threshold).astype(int),
        sample.groups[attribute].to_numpy(),
        names,
        min_size=settings.min_group_size,
        unknown=UNKNOWN_GROUP,
    )


def _ratio_draws(rates: _Rates, sizes: np.ndarray, names: list[str], settings: MonitorSpec) -> np.ndarray:
    """The ratio (smallest over largest selection rate of the compared groups) in each resample."""
    excluded = excluded_groups(names, sizes, min_size=settings.min_group_size, unknown=UNKNOWN_GROUP)
    compared = rates.draws[:, [g for g, name in enumerate(names) if name not in excluded]]
    if compared.shape[1] < 2:
        return np.full(settings.n_boot, np.nan)
    low, high = compared.min(axis=1), compared.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(high == low, 1.0, low / high)


def _summary(score: Drift, fields: dict[str, Drift], current: Sample) -> str:
    moved = [name for name, drift in fields.items() if drift.band == "shifted"]
    largest = max(fields.items(), key=lambda item: item[1].value) if fields else None
    text = f"{len(current.scores)} current rows: score PSI {score.value:.3f} ({score.band}); "
    text += f"{len(moved)} of {len(fields)} fields shifted"
    if largest is not None:
        text += f", largest {largest[0]} PSI {largest[1].value:.3f} ({largest[1].band})"
    return text + "."
