"""The price of differential privacy: the DP model next to its non-private twin, and across an epsilon sweep.

DP-SGD can cost under-represented groups more accuracy than others (Bagdasaryan et al.
2019, "Differential Privacy Has Disparate Impact on Model Accuracy"). The twin shares the
data, split, seed and settings, so on the same test rows a paired bootstrap (one resample
of rows for both models) gives intervals for the accuracy drop overall and per group.
Every other figure is read from the two models' own findings, so the comparison shows
exactly what each model's report shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmaudit.core.findings import Bar, BarChart, Estimate, Findings, LineChart, Metric, Table, finite, metric_key
from fmaudit.core.intervals import percentile_interval, resample_cell_counts, stream
from fmaudit.plugins.context import ComparedModel, Predictions

Curve = tuple[str, tuple[float, ...], tuple[float, ...]]
"""One LineChart series: (name, xs, ys)."""

COMPARED_PATHS = ("performance.accuracy", "performance.balanced_accuracy", "performance.roc_auc")
COMPARED_SUFFIXES = (
    ".demographic_parity_difference",
    ".demographic_parity_ratio",
    ".equalized_odds_difference",
    ".equalized_odds_ratio",
    ".equal_opportunity_difference",
    ".predictive_parity_difference",
    ".attack_success_rate",
)
"""Fairness disparities and robustness success rates, compared wherever both models report them."""
MIA_AUC = "privacy.mia.auc"


@dataclass(frozen=True)
class Cost:
    metrics: tuple[Metric, ...]
    tables: tuple[Table, ...]
    charts: tuple[BarChart, ...]
    summary: str


def cost_paths(attributes: dict[str, list[str]]) -> list[str]:
    """Metric paths of the twin comparison for the planned attributes and groups."""
    paths = ["privacy.cost.accuracy_drop", "privacy.cost.roc_auc_drop"]
    for attribute, groups in attributes.items():
        paths.append(f"privacy.cost.{attribute}.demographic_parity_ratio_change")
        paths += [f"privacy.cost.{attribute}.groups.{metric_key(g)}.accuracy_drop" for g in groups]
    return paths


def twin_cost(
    *,
    own: Findings,
    own_predictions: Predictions,
    twin: ComparedModel,
    sensitive: pd.DataFrame,
    n_boot: int,
    confidence: float,
    seed: int,
) -> Cost:
    """The DP model against its twin: side-by-side figures, accuracy drops with paired intervals, parity changes."""
    if not np.array_equal(own_predictions.row_ids, twin.predictions.row_ids):
        raise ValueError("the twin was scored on different test rows")
    own_metrics, twin_metrics = own.metrics(), twin.findings.metrics()
    groups = sensitive.iloc[own_predictions.row_ids].reset_index(drop=True).astype(str)
    own_correct = own_predictions.decisions == own_predictions.labels
    twin_correct = twin.predictions.decisions == twin.predictions.labels
    cell = 2 * own_correct.astype(np.int64) + twin_correct.astype(np.int64)  # 1: only the twin right, 2: only DP

    overall = _paired_drop(
        np.zeros(len(cell), dtype=np.int64),
        cell,
        n_groups=1,
        n_boot=n_boot,
        confidence=confidence,
        rng=stream(seed, "privacy.cost"),
    )[0]
    from sklearn.metrics import roc_auc_score

    labels = own_predictions.labels
    roc_drop = (
        float(roc_auc_score(labels, twin.predictions.scores) - roc_auc_score(labels, own_predictions.scores))
        if len(np.unique(labels)) == 2
        else None
    )
    metrics = [
        _drop_metric("privacy.cost.accuracy_drop", overall, "Accuracy lost to privacy (twin - DP)"),
        Metric(
            "privacy.cost.roc_auc_drop",
            roc_drop,
            "ROC AUC lost to privacy (twin - DP)",
            "lower",
            note=_undefined(roc_drop),
        ),
    ]
    charts = []
    for attribute in groups.columns:
        attribute_metrics, chart = _attribute_cost(
            attribute,
            groups[attribute],
            cell,
            own_metrics,
            twin_metrics,
            n_boot=n_boot,
            confidence=confidence,
            seed=seed,
        )
        metrics += attribute_metrics
        charts.append(chart)
    table = _side_by_side(own_metrics, twin_metrics)
    own_accuracy = float(np.mean(own_correct))
    twin_accuracy = float(np.mean(twin_correct))
    summary = (
        f"Against its non-private twin: accuracy {own_accuracy:.3f} vs {twin_accuracy:.3f} (drop "
        f"{_signed(overall.value)} {_interval(overall, confidence)}), ROC AUC drop {_signed(roc_drop)}; "
        "a negative drop means the DP model scores higher."
    )
    return Cost(metrics=tuple(metrics), tables=(table,), charts=tuple(charts), summary=summary)


def _attribute_cost(
    attribute: str,
    groups: pd.Series,
    cell: np.ndarray,
    own_metrics: dict[str, Metric],
    twin_metrics: dict[str, Metric],
    *,
    n_boot: int,
    confidence: float,
    seed: int,
) -> tuple[list[Metric], BarChart]:
    """One attribute's price of privacy: the change in its parity ratio (from both models' fairness findings) and
    each group's accuracy drop with a paired interval, as metrics and as a bar chart."""
    before = twin_metrics.get(f"fairness.{attribute}.demographic_parity_ratio")
    after = own_metrics.get(f"fairness.{attribute}.demographic_parity_ratio")
    change = (
        before.value - after.value
        if before is not None and after is not None and before.value is not None and after.value is not None
        else None
    )
    metrics = [
        Metric(
            f"privacy.cost.{attribute}.demographic_parity_ratio_change",
            change,
            f"Fall in the demographic parity ratio under DP, twin - DP ({attribute})",
            "lower",
            note="" if change is not None else "needs the fairness plugin's ratio for both models",
        )
    ]
    names = sorted(groups.unique())
    codes = pd.Categorical(groups, categories=names).codes
    drops = _paired_drop(
        codes,
        cell,
        n_groups=len(names),
        n_boot=n_boot,
        confidence=confidence,
        rng=stream(seed, f"privacy.cost.{attribute}"),
    )
    bars = []
    for name, drop in zip(names, drops, strict=True):
        metrics.append(
            _drop_metric(
                f"privacy.cost.{attribute}.groups.{metric_key(name)}.accuracy_drop",
                drop,
                f"Accuracy lost to privacy ({attribute} = {name})",
            )
        )
        bars.append(
            Bar(
                label=f"{name} (n={drop.rows})",
                value=drop.value if drop.value is not None else 0.0,
                ci_low=drop.low,
                ci_high=drop.high,
            )
        )
    chart = BarChart(
        title=f"Which groups paid for privacy: accuracy lost by {attribute} (twin - DP)",
        bars=tuple(bars),
        note=f"Whiskers: {confidence:.0%} paired bootstrap interval ({n_boot} resamples of the test rows, "
        "both models scored on the same resample). Positive: the DP model is less accurate for the group.",
    )
    return metrics, chart


@dataclass(frozen=True)
class _Drop:
    value: float | None
    low: float | None
    high: float | None
    rows: int


def _paired_drop(
    codes: np.ndarray, cell: np.ndarray, *, n_groups: int, n_boot: int, confidence: float, rng: np.random.Generator
) -> list[_Drop]:
    """Accuracy drop (twin - DP) per group with a paired bootstrap over the rows' (DP right, twin right) cells."""
    counts = np.bincount(codes * 4 + cell, minlength=n_groups * 4).reshape(n_groups, 4)

    def drop(c: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (c[..., 1] - c[..., 2]) / c.sum(axis=-1)

    point = drop(counts)
    resampled = drop(resample_cell_counts(counts, n_boot=n_boot, rng=rng)) if n_boot else None
    out = []
    for g in range(n_groups):
        interval = percentile_interval(resampled[:, g], level=confidence) if resampled is not None else None
        out.append(
            _Drop(
                finite(point[g]),
                interval.low if interval else None,
                interval.high if interval else None,
                int(counts[g].sum()),
            )
        )
    return out


def _drop_metric(path: str, drop: _Drop, label: str) -> Metric:
    return Metric(
        path, drop.value, label, "lower", ci_low=drop.low, ci_high=drop.high, note=_undefined(drop.value, "no rows")
    )


def _side_by_side(own: dict[str, Metric], twin: dict[str, Metric]) -> Table:
    """Every compared figure both models report, with each model's own interval."""
    paths = [p for p in COMPARED_PATHS if p in own and p in twin]
    paths += [p for p in own if p.endswith(COMPARED_SUFFIXES) and p in twin and p not in paths]
    if MIA_AUC in twin:
        paths.append(MIA_AUC)
    rows = []
    for path in paths:
        mine, theirs = own.get(path), twin[path]
        change = (
            mine.value - theirs.value
            if mine is not None and mine.value is not None and theirs.value is not None
            else None
        )
        rows.append((path, theirs.label, _estimate(theirs), _estimate(mine), change))
    return Table(
        title="The DP model next to its non-private twin",
        columns=("Metric path", "Figure", "No-DP twin", "DP model", "Change (DP - twin)"),
        rows=tuple(rows),
        note="Each model's figure with its own interval, from its own findings; the twin's full report is "
        "written beside this one. The membership-inference AUC of this model is in the table below.",
    )


def _estimate(metric: Metric | None) -> Estimate:
    return Estimate(None) if metric is None else Estimate(metric.value, metric.ci_low, metric.ci_high)


@dataclass(frozen=True)
class SweepPoint:
    """One model of the privacy-utility-fairness curve."""

    label: str
    epsilon: float | None
    """Epsilon reached; None for the non-private twin."""
    key: str | None
    """Metric-path part for sweep models (``sweep_key``); None for the audited model and the twin."""
    accuracy: float
    roc_auc: float | None
    parity: dict[str, float | None]
    """Demographic parity ratio per attribute."""
    mia_auc: float | None


def sweep_findings(
    points: list[SweepPoint], attributes: list[str]
) -> tuple[list[Metric], Table, tuple[LineChart, ...]]:
    """The sweep as metrics (per target epsilon), a table and two curves against epsilon."""
    private = sorted((p for p in points if p.epsilon is not None), key=lambda p: p.epsilon or 0.0)
    twin = next((p for p in points if p.epsilon is None), None)
    lo = min(p.epsilon for p in private if p.epsilon is not None)
    hi = max(p.epsilon for p in private if p.epsilon is not None)

    def line(label: str, values: list[tuple[float, float | None]]) -> Curve:
        kept = [(x, y) for x, y in values if y is not None]
        return (label, tuple(x for x, _ in kept), tuple(y for _, y in kept))

    def flat(label: str, value: float | None) -> list[Curve]:
        return [] if value is None else [(f"{label}, no DP", (lo, hi), (value, value))]

    eps = [p.epsilon or 0.0 for p in private]
    utility = [
        line("ROC AUC", list(zip(eps, [p.roc_auc for p in private], strict=True))),
        line("accuracy", list(zip(eps, [p.accuracy for p in private], strict=True))),
        *[
            line(f"parity ratio, {a}", list(zip(eps, [p.parity.get(a) for p in private], strict=True)))
            for a in attributes
        ],
    ]
    if twin is not None:
        utility += flat("ROC AUC", twin.roc_auc) + flat("accuracy", twin.accuracy)
    leakage = [line("loss-attack AUC", list(zip(eps, [p.mia_auc for p in private], strict=True)))]
    if twin is not None:
        leakage += flat("loss-attack AUC", twin.mia_auc)
    charts = (
        _against_epsilon(
            "Privacy-utility-fairness curve: test figures against the epsilon reached",
            utility,
            y_label="figure",
            y_min=0.0,
            note="Each point is a model trained with the same settings at another target epsilon. "
            "Parity ratio = demographic parity ratio over the groups large enough to compare. Dashed: the twin.",
        ),
        _against_epsilon(
            "Membership leakage against epsilon (loss-threshold attack AUC)",
            leakage,
            y_label="attack AUC",
            y_min=0.4,
            note="0.5 is chance. Dashed: the twin.",
        ),
    )
    rows = tuple(
        (p.label, p.epsilon, p.accuracy, p.roc_auc, *(p.parity.get(a) for a in attributes), p.mia_auc) for p in points
    )
    table = Table(
        title="Epsilon sweep",
        columns=(
            "Model",
            "Epsilon reached",
            "Accuracy",
            "ROC AUC",
            *(f"Parity ratio, {a}" for a in attributes),
            "MIA AUC",
        ),
        rows=rows,
        note="Point estimates on the test split; the audited model and its twin carry intervals in their own sections.",
    )
    metrics = []
    for p in private:
        if p.key is None:
            continue
        key = f"privacy.sweep.{p.key}"
        metrics += [
            Metric(f"{key}.epsilon", p.epsilon, f"Epsilon reached ({p.label})", "lower"),
            Metric(f"{key}.accuracy", p.accuracy, f"Accuracy ({p.label})", "higher"),
            Metric(f"{key}.roc_auc", p.roc_auc, f"ROC AUC ({p.label})", "higher", note=_undefined(p.roc_auc)),
        ]
    return metrics, table, charts


SWEEP_FIGURES = ("epsilon", "accuracy", "roc_auc")


def _against_epsilon(title: str, series: list[Curve], *, y_label: str, y_min: float, note: str) -> LineChart:
    kept = tuple(curve for curve in series if curve[1])
    return LineChart(
        title=title,
        x_label="epsilon (log scale)",
        y_label=y_label,
        series=kept,
        log_x=True,
        y_min=y_min,
        y_max=1.0,
        dashed=tuple(name for name, _, _ in kept if name.endswith(", no DP")),
        note=note,
    )


def sweep_key(target_epsilon: float) -> str:
    """The metric-path part of the sweep model trained for ``target_epsilon``."""
    return metric_key(f"eps_{target_epsilon:g}")


def sweep_paths(epsilons: tuple[float, ...]) -> list[str]:
    return [f"privacy.sweep.{sweep_key(e)}.{figure}" for e in epsilons for figure in SWEEP_FIGURES]


def _undefined(value: float | None, why: str = "undefined") -> str:
    return "" if value is not None else why


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def _interval(drop: _Drop, confidence: float) -> str:
    return f"[{confidence:.0%} interval {drop.low:+.3f}, {drop.high:+.3f}]" if drop.low is not None else "(no interval)"
