"""The performance section: figures with intervals against the baselines, as metrics, a table and a summary."""

from __future__ import annotations

import numpy as np

from fmaudit.core.findings import Estimate, Metric, PluginFindings, Table
from fmaudit.core.intervals import Interval
from fmaudit.families.performance.bootstrap import bootstrap_intervals
from fmaudit.families.performance.degenerate import assess, degeneracy_metrics, degeneracy_sentence
from fmaudit.families.performance.params import BASELINES, FIGURES, PerformanceParams
from fmaudit.metrics.scores import score_figures
from fmaudit.plugins.context import Predictions


def performance_findings(
    preds: Predictions, baselines_scores: dict[str, np.ndarray], params: PerformanceParams, *, plugin: str, title: str
) -> PluginFindings:
    """The model's figures (with intervals) next to each baseline's on the same test rows."""
    model = score_figures(preds.labels, preds.scores, threshold=preds.threshold, ece_bins=params.ece_bins)
    baselines = {
        name: score_figures(preds.labels, scores, ece_bins=params.ece_bins) for name, scores in baselines_scores.items()
    }
    intervals = (
        bootstrap_intervals(preds.labels, preds.scores, params, threshold=preds.threshold) if params.n_boot else {}
    )
    metrics = [_metric(f"performance.{figure}", model[figure], figure, intervals.get(figure)) for figure in FIGURES]
    degeneracy = assess(
        preds.decisions,
        model["balanced_accuracy"],
        intervals.get("balanced_accuracy"),
        min_decision_share=params.min_decision_share,
    )
    metrics += degeneracy_metrics(degeneracy)
    for name, figures in baselines.items():
        metrics += [_metric(f"performance.baselines.{name}.{f}", figures[f], f) for f in FIGURES]
    rows = tuple(
        (
            FIGURES[f][0],
            Estimate(model[f], *((intervals[f].low, intervals[f].high) if f in intervals else (None, None))),
            *(baselines[b][f] for b in BASELINES),
        )
        for f in FIGURES
    )
    lr_auc = baselines["logistic_regression"]["roc_auc"]
    beats = model["roc_auc"] is not None and lr_auc is not None and model["roc_auc"] >= lr_auc
    summary = (
        f"On {len(preds.labels)} test rows the fine-tuned model reaches ROC AUC {_fmt(model['roc_auc'])} "
        f"and accuracy {_fmt(model['accuracy'])}; a logistic regression on the same fields reaches ROC AUC "
        f"{_fmt(lr_auc)}"
        f"{'' if beats else ' (higher than the fine-tuned model)'}, the majority class accuracy "
        f"{_fmt(baselines['majority']['accuracy'])}. {degeneracy_sentence(degeneracy)}"
    )
    return PluginFindings(
        plugin=plugin,
        title=title,
        summary=summary,
        metrics=tuple(metrics),
        tables=(
            Table(
                title="Test-split figures against baselines fitted on the same split",
                columns=("Figure", "Fine-tuned model", *BASELINES.values()),
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
