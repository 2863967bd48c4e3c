"""Benchmark: the performance plugin's bootstrap, vectorised over resamples vs a loop of scikit-learn calls.

Synthetic test split (scores rounded to 3 decimals, so ties occur as in a real model's), the plugin's default
1,000 resamples. The loop is the implementation the vectorised one replaced: ``score_figures`` (scikit-learn's
metrics) on each resample's rows, with the same rows per resample. Prints both times, the speed-up and the
largest difference between the two sets of per-resample figures.

    python bench/performance_bootstrap.py [--rows 300] [--resamples 1000] [--loop-resamples N]

``--loop-resamples N`` runs the loop on the first N resamples only and scales its time linearly to
``--resamples`` (each resample is the same independent work); the output says when it did.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fmaudit.core.intervals import resampled_rows, stream
from fmaudit.families.performance.bootstrap import bootstrap_intervals
from fmaudit.families.performance.params import FIGURES, PerformanceParams
from fmaudit.metrics.scores import resampled_figures, score_figures


def synthetic(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, rows)
    scores = np.clip(0.5 + 0.3 * (labels - 0.5) + rng.normal(0, 0.2, rows), 0, 1).round(3)
    return labels, scores


def loop(labels: np.ndarray, scores: np.ndarray, params: PerformanceParams, n_boot: int) -> np.ndarray:
    """Per resample, every figure from scikit-learn: shape ``(n_boot, figures)``."""
    out = []
    for rows in resampled_rows(len(labels), n_boot=n_boot, rng=stream(params.seed, "performance")):
        for r in rows:
            figures = score_figures(labels[r], scores[r], ece_bins=params.ece_bins)
            out.append([np.nan if figures[f] is None else figures[f] for f in FIGURES])
    return np.array(out)


def vectorised(labels: np.ndarray, scores: np.ndarray, params: PerformanceParams, n_boot: int) -> np.ndarray:
    """The same figures through ``resampled_figures`` on the same resamples: shape ``(n_boot, figures)``."""
    values, which = np.unique(scores, return_inverse=True)
    out = []
    for rows in resampled_rows(len(labels), n_boot=n_boot, rng=stream(params.seed, "performance")):
        counts = np.stack([np.bincount(2 * which[r] + labels[r], minlength=2 * len(values)) for r in rows])
        figures = resampled_figures(counts.reshape(len(rows), -1, 2), values, threshold=0.5, ece_bins=params.ece_bins)
        out.append(np.stack([figures[f] for f in FIGURES], axis=1))
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--loop-resamples", type=int, help="run the loop on fewer resamples, scale its time")
    args = parser.parse_args()
    labels, scores = synthetic(args.rows)
    params = PerformanceParams(n_boot=args.resamples)

    started = time.perf_counter()
    bootstrap_intervals(labels, scores, params)
    fast = time.perf_counter() - started
    print(f"vectorised: {fast:8.2f} s for {args.rows} rows x {args.resamples} resamples")

    looped = args.loop_resamples or args.resamples
    started = time.perf_counter()
    theirs = loop(labels, scores, params, looped)
    measured = time.perf_counter() - started
    slow = measured * args.resamples / looped
    scaled = "" if looped == args.resamples else f" (measured {measured:.1f} s at {looped}, scaled)"
    print(f"      loop: {slow:8.2f} s for {args.rows} rows x {args.resamples} resamples{scaled}")
    ours = vectorised(labels, scores, params, looped)
    both = np.isfinite(theirs)
    assert (both == np.isfinite(ours)).all(), "undefined in different resamples"
    print(f"largest difference between per-resample figures: {np.abs(ours[both] - theirs[both]).max():.2e}")
    print(f"speed-up: {slow / fast:.0f}x")


if __name__ == "__main__":
    main()
