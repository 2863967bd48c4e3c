"""Benchmark: group fairness with every interval on a bank's portfolio, and fmaudit's bootstrap against
fairlearn's MetricFrame(n_boot=...).

Synthetic rows (generated here; 100,000 by default, ``--rows 10000000`` for a portfolio): two sensitive
attributes plus their intersection (2, 3 and 6 groups), labels, scores and decisions. The audit is the fairness
plugin's per attribute (``audit_attribute``: every group figure, gap to the reference and disparity with its
interval, mean score and ECE included) plus the family of selection-rate tests, 1,000 resamples; it prints the
wall time and the peak memory: Python's traced allocations during the audit (tracemalloc, numpy's included)
and the process's peak resident size (the generated data included).

    python bench/fairness_bootstrap.py [--rows 100000] [--resamples 1000] [--fairlearn-resamples N]

``--fairlearn-resamples N`` also runs fairlearn's bootstrap (a Python loop over resampled MetricFrames, about
1 s per resample and attribute at 100,000 rows) with N resamples for selection rate, TPR and FPR, scales its
time linearly to ``--resamples`` and prints the largest gap between the two sets of interval endpoints.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np
import pandas as pd

from fmaudit.core.intervals import percentile_interval, resample_cell_counts, stream
from fmaudit.families.fairness.attribute import AttributeAudit, audit_attribute
from fmaudit.families.fairness.reference_gaps import comparisons, gap_table
from fmaudit.families.fairness.tables import disparity_table, group_table, impact_table
from fmaudit.metrics import confusion

FIGURES = ("selection_rate", "tpr", "fpr")


def synthetic(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Labels, scores, decisions and categorical groups, with a planted gap for women and the under-25s."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(2, size=rows, p=[0.35, 0.65])
    age = rng.choice(3, size=rows, p=[0.2, 0.5, 0.3])
    labels = rng.integers(0, 2, rows)
    bias = np.where(sex == 0, -0.05, 0.0) + np.where(age == 0, -0.08, 0.0)
    scores = np.clip(0.5 + bias + 0.25 * (labels - 0.5) + rng.normal(0, 0.15, rows), 0, 1)
    sexes, ages = ["female", "male"], ["under 25", "25-44", "45 and over"]
    groups = pd.DataFrame(
        {
            "sex": pd.Categorical.from_codes(sex, sexes),
            "age": pd.Categorical.from_codes(age, ages),
            "sex_x_age": pd.Categorical.from_codes(sex * 3 + age, [f"{s} & {a}" for s in sexes for a in ages]),
        }
    )
    return labels, scores, (scores >= 0.5).astype(np.int64), groups


def audit(labels: np.ndarray, scores: np.ndarray, decisions: np.ndarray, groups: pd.DataFrame, n_boot: int) -> int:
    """The fairness plugin's figures for every attribute, with their tables and tests; returns the intervals."""
    audits: list[AttributeAudit] = [
        audit_attribute(
            labels=labels,
            decisions=decisions,
            scores=scores,
            groups=groups[attribute],
            all_groups=[],
            min_size=max(20, int(0.02 * len(labels))),
            reference=None,
            n_boot=n_boot,
            confidence=0.95,
            rng=stream(0, f"fairness.{attribute}"),
            attribute=attribute,
        )
        for attribute in groups.columns
    ]
    comparisons(audits, method="holm")
    for a in audits:
        impact_table(a), group_table(a), gap_table(a, 0.95), disparity_table(a, 0.95)
    return sum(
        int(a.ci_low.notna().to_numpy().sum()) + sum(d.ci_low is not None for d in a.disparities.values())
        for a in audits
    )


def fmaudit_intervals(labels: np.ndarray, decisions: np.ndarray, groups: pd.Series, n_boot: int) -> dict[str, tuple]:
    names = [str(c) for c in groups.cat.categories]
    counts = confusion.confusion_counts(groups.cat.codes.to_numpy(), labels, decisions, n_groups=len(names))
    resampled = confusion.rates(resample_cell_counts(counts, n_boot=n_boot, rng=np.random.default_rng(1)))
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
        sensitive_features=groups.astype(str),
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


def against_fairlearn(
    labels: np.ndarray, decisions: np.ndarray, groups: pd.DataFrame, resamples: int, fairlearn_resamples: int
) -> None:
    runs = {"fmaudit": resamples, "fairlearn": fairlearn_resamples}
    timings = {}
    results: dict[str, dict[str, dict[str, tuple]]] = {"fmaudit": {}, "fairlearn": {}}
    for name, compute in (("fmaudit", fmaudit_intervals), ("fairlearn", fairlearn_intervals)):
        started = time.perf_counter()
        for attribute in groups.columns:
            results[name][attribute] = compute(labels, decisions, groups[attribute], runs[name])
        measured = time.perf_counter() - started
        timings[name] = measured * resamples / runs[name]
        scaled = "" if runs[name] == resamples else f" (measured {measured:.1f} s at {runs[name]}, scaled)"
        print(f"{name:>9}: {timings[name]:8.2f} s for {groups.shape[1]} attributes x {resamples} resamples{scaled}")
    gap = max(
        abs(a - b)
        for attribute in groups.columns
        for key, ours in results["fmaudit"][attribute].items()
        for a, b in zip(ours, results["fairlearn"][attribute][key], strict=True)
    )
    print(f"largest difference between interval endpoints: {gap:.4f} (Monte-Carlo error of two independent bootstraps)")
    print(f"speed-up: {timings['fairlearn'] / timings['fmaudit']:.0f}x (target >= 10x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--fairlearn-resamples", type=int, help="also run fairlearn with N resamples, scale its time")
    args = parser.parse_args()
    labels, scores, decisions, groups = synthetic(args.rows)
    data_mb = (labels.nbytes + scores.nbytes + decisions.nbytes + groups.memory_usage(deep=True).sum()) / 2**20

    # The tests' libraries load once per process, whatever the rows: not timed.
    import statsmodels.stats.multitest
    import statsmodels.stats.proportion  # noqa: F401

    tracemalloc.start()
    started = time.perf_counter()
    intervals = audit(labels, scores, decisions, groups, args.resamples)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    sizes = ", ".join(f"{c}: {groups[c].cat.categories.size} groups" for c in groups.columns)
    print(
        f"fairness audit, every interval: {seconds:.1f} s for {args.rows:,} rows x {args.resamples} resamples "
        f"({sizes}; {intervals} intervals; target <= 30 s at 10M rows)"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(
        f"peak memory: {peak / 2**20:.0f} MiB traced during the audit (input data {data_mb:.0f} MiB); "
        f"process max RSS {rss:.0f} MiB"
    )
    if args.fairlearn_resamples:
        against_fairlearn(labels, decisions, groups, args.resamples, args.fairlearn_resamples)


if __name__ == "__main__":
    main()
