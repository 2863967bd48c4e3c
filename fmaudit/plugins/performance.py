"""Performance on the test split, next to two baselines fitted on the same split.

Model-risk validation (SR 11-7 / SR 26-2 outcomes analysis) asks for benchmarks:
a majority-class predictor and a scikit-learn logistic regression on the
tabular columns. A fine-tuned model that does not beat them has learned little.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from fmaudit.findings import Better, Estimate, Metric, PluginFindings, Table
from fmaudit.intervals import Interval, percentile_interval
from fmaudit.plugins.base import AuditContext, AuditPlan, AuditPlugin, PluginParams

FIGURES: dict[str, tuple[str, Better]] = {
    "accuracy": ("Accuracy", "higher"),
    "balanced_accuracy": ("Balanced accuracy", "higher"),
    "f1": ("F1 (favourable class)", "higher"),
    "roc_auc": ("ROC AUC", "higher"),
    "ece": ("Expected calibration error", "lower"),
}
BASELINES = ("majority", "logistic_regression")


class PerformanceParams(PluginParams):
    ece_bins: int = Field(10, ge=2, description="equal-width score bins for the calibration error")
    n_boot: int = Field(1000, ge=0, description="bootstrap resamples of the test rows for intervals (0: none)")
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, *, bins: int = 10) -> float:
    """ECE (Guo et al. 2017): bin-size-weighted |accuracy - confidence| over equal-width score bins.

    Computed on the favourable-class probability, i.e. the reliability diagram's gap.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(labels[in_bin].mean() - scores[in_bin].mean())
    return float(total)


def score_figures(
    labels: np.ndarray, scores: np.ndarray, *, threshold: float = 0.5, ece_bins: int = 10
) -> dict[str, float | None]:
    """All performance figures for one set of scores (None where undefined, e.g. AUC on one class)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

    decisions = (scores >= threshold).astype(int)
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": float(accuracy_score(labels, decisions)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, decisions)) if both_classes else None,
        "f1": float(f1_score(labels, decisions, zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, scores)) if both_classes else None,
        "ece": expected_calibration_error(labels, scores, bins=ece_bins),
    }


def bootstrap_intervals(
    labels: np.ndarray, scores: np.ndarray, params: PerformanceParams, *, threshold: float = 0.5
) -> dict[str, Interval]:
    """Percentile intervals of every figure over resamples of the test rows (the same scheme as fairness)."""
    rng = np.random.default_rng(params.seed)
    n = len(labels)
    samples: dict[str, list[float]] = {figure: [] for figure in FIGURES}
    for _ in range(params.n_boot):
        rows = rng.integers(0, n, n)
        for figure, value in score_figures(
            labels[rows], scores[rows], threshold=threshold, ece_bins=params.ece_bins
        ).items():
            samples[figure].append(np.nan if value is None else value)
    return {
        figure: percentile_interval(np.array(values), level=params.confidence) for figure, values in samples.items()
    }


def baseline_scores(context: AuditContext) -> dict[str, np.ndarray]:
    """Test-split scores of the majority class and of a logistic regression on the raw columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = context.data
    frame = data.frame[data.feature_columns]
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in frame.columns if c not in numeric]
    train, test = frame.iloc[data.train_idx], frame.iloc[data.test_idx]
    y_train = data.labels[data.train_idx]
    pipeline = make_pipeline(
        ColumnTransformer(
            [
                ("numeric", StandardScaler(), numeric),
                ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
            ]
        ),
        LogisticRegression(max_iter=2000),
    )
    pipeline.fit(train, y_train)
    majority = np.full(len(test), float(y_train.mean() >= 0.5))
    return {"majority": majority, "logistic_regression": pipeline.predict_proba(test)[:, 1]}


class PerformancePlugin(AuditPlugin[PerformanceParams]):
    name = "performance"
    title = "Performance"
    Params = PerformanceParams

    def metric_paths(self, params: PerformanceParams, plan: AuditPlan) -> list[str]:
        paths = [f"performance.{figure}" for figure in FIGURES]
        paths += [f"performance.baselines.{b}.{figure}" for b in BASELINES for figure in FIGURES]
        return paths

    def run(self, context: AuditContext, params: PerformanceParams) -> PluginFindings:
        preds = context.predictions
        model = score_figures(preds.labels, preds.scores, threshold=preds.threshold, ece_bins=params.ece_bins)
        baselines = {
            name: score_figures(preds.labels, scores, ece_bins=params.ece_bins)
            for name, scores in baseline_scores(context).items()
        }
        intervals = (
            bootstrap_intervals(preds.labels, preds.scores, params, threshold=preds.threshold) if params.n_boot else {}
        )
        metrics = [_metric(f"performance.{figure}", model[figure], figure, intervals.get(figure)) for figure in FIGURES]
        for name, figures in baselines.items():
            metrics += [_metric(f"performance.baselines.{name}.{f}", figures[f], f) for f in FIGURES]
        rows = tuple(
            (
                FIGURES[f][0],
                Estimate(model[f], *((intervals[f].low, intervals[f].high) if f in intervals else (None, None))),
                baselines["majority"][f],
                baselines["logistic_regression"][f],
            )
            for f in FIGURES
        )
        lr_auc = baselines["logistic_regression"]["roc_auc"]
        beats = model["roc_auc"] is not None and lr_auc is not None and model["roc_auc"] >= lr_auc
        summary = (
            f"On {len(preds.labels)} test rows the fine-tuned model reaches ROC AUC {_fmt(model['roc_auc'])} "
            f"and accuracy {_fmt(model['accuracy'])}; the logistic-regression baseline reaches ROC AUC {_fmt(lr_auc)}"
            f"{'' if beats else ' (higher than the fine-tuned model)'}, the majority class accuracy "
            f"{_fmt(baselines['majority']['accuracy'])}."
        )
        return PluginFindings(
            plugin=self.name,
            title=self.title,
            summary=summary,
            metrics=tuple(metrics),
            tables=(
                Table(
                    title="Test-split figures against baselines fitted on the same split",
                    columns=("Figure", "Fine-tuned model", "Majority class", "Logistic regression"),
                    rows=rows,
                    note=f"Decision threshold {preds.threshold:g} on P(favourable); ECE over {params.ece_bins} bins. "
                    f"Intervals: {params.confidence:.0%} percentile bootstrap over {params.n_boot} resamples of the "
                    f"test rows (seed {params.seed}).",
                ),
            ),
        )


def _metric(path: str, value: float | None, figure: str, interval: Interval | None = None) -> Metric:
    label, better = FIGURES[figure]
    return Metric(
        path=path,
        value=value,
        label=label,
        better=better,
        ci_low=interval.low if interval else None,
        ci_high=interval.high if interval else None,
        note="" if value is not None else "undefined",
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
