"""Benchmark: bootstrap intervals for group fairness, fmaudit vs fairlearn's MetricFrame(n_boot=...).

100,000 synthetic rows, two sensitive attributes plus their intersection, 1,000
resamples; selection rate, TPR and FPR per group and their between-group
differences. One run each, same data, same machine; prints both times, the
ratio, and the largest gap between the two sets of interval endpoints.

    python bench/fairness_bootstrap.py [--rows 100000] [--resamples 1000] [--fairlearn-resamples N]

fairlearn's bootstrap is a Python loop over resampled MetricFrames, about 1 s per resample and attribute
at 100,000 rows here, so its full run takes close to an hour. ``--fairlearn-resamples N`` runs it with N
resamples and scales its time linearly to ``--resamples`` (each resample is the same independent work);
the output says when it did.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from fmaudit.fairness import group_metrics as gm
from fmaudit.intervals import percentile_interval, resample_cell_counts

FIGURES = ("selection_rate", "tpr", "fpr")


def synthetic(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], size=rows, p=[0.35, 0.65])
    age = rng.choice(["under 25", "25-44", "45 and over"], size=rows, p=[0.2, 0.5, 0.3])
    labels = rng.integers(0, 2, rows)
    bias = np.where(sex == "female", -0.05, 0.0) + np.where(age == "under 25", -0.08, 0.0)
    decisions = (rng.random(rows) < 0.45 + 0.25 * labels + bias).astype(int)
    groups = pd.DataFrame({"sex": sex, "age": age})
    groups["sex_x_age"] = groups["sex"] + " & " + groups["age"]
    return labels, decisions, groups


def fmaudit_intervals(labels: np.ndarray, decisions: np.ndarray, groups: pd.Series, n_boot: int) -> dict[str, tuple]:
    names = sorted(groups.unique())
    codes = pd.Categorical(groups, categories=names).codes
    counts = gm.confusion_counts(codes, labels, decisions, n_groups=len(names))
    resampled = gm.rates(resample_cell_counts(counts, n_boot=n_boot, rng=np.random.default_rng(1)))
    out = {}
    for figure in FIGURES:
        for g, name in enumerate(names):
            interval = percentile_interval(resampled[figure][:, g], level=0.95)
            out[f"{figure}/{name}"] = (interval.low, interval.high)
        values = resampled[figure]
        interval = percentile_interval(values.max(axis=1) - values.min(axis=1), level=0.95)
        out[f"{figure}/difference"] = (interval.low, interval.high)
    return out


def fairlearn_intervals(labels: np.ndarray, decisions: np.ndarray, groups: pd.Series, n_boot: int) -> dict[str, tuple]:
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    frame = MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=labels,
        y_pred=decisions,
        sensitive_features=groups,
        n_boot=n_boot,
        ci_quantiles=[0.025, 0.975],
        random_state=1,
    )
    low, high = frame.by_group_ci
    diff_low, diff_high = frame.difference_ci()
    out = {}
    for figure in FIGURES:
        for name in low.index:
            out[f"{figure}/{name}"] = (low.loc[name, figure], high.loc[name, figure])
        out[f"{figure}/difference"] = (diff_low[figure], diff_high[figure])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--fairlearn-resamples", type=int, help="run fairlearn with fewer resamples, scale its time")
    args = parser.parse_args()
    runs = {"fmaudit": args.resamples, "fairlearn": args.fairlearn_resamples or args.resamples}
    labels, decisions, groups = synthetic(args.rows)
    timings = {}
    results: dict[str, dict[str, dict[str, tuple]]] = {"fmaudit": {}, "fairlearn": {}}
    for name, compute in (("fmaudit", fmaudit_intervals), ("fairlearn", fairlearn_intervals)):
        started = time.perf_counter()
        for attribute in groups.columns:
            results[name][attribute] = compute(labels, decisions, groups[attribute], runs[name])
        measured = time.perf_counter() - started
        timings[name] = measured * args.resamples / runs[name]
        scaled = "" if runs[name] == args.resamples else f" (measured {measured:.1f} s at {runs[name]}, scaled)"
        print(
            f"{name:>9}: {timings[name]:8.2f} s for {groups.shape[1]} attributes x {args.resamples} resamples{scaled}"
        )
    gap = max(
        abs(a - b)
        for attribute in groups.columns
        for key, ours in results["fmaudit"][attribute].items()
        for a, b in zip(ours, results["fairlearn"][attribute][key], strict=True)
    )
    print(f"largest difference between interval endpoints: {gap:.4f} (Monte-Carlo error of two independent bootstraps)")
    print(f"speed-up: {timings['fairlearn'] / timings['fmaudit']:.0f}x (target >= 10x)")


if __name__ == "__main__":
    main()
