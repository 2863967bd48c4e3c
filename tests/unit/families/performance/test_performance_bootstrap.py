"""The vectorised performance bootstrap: on every resample, the figures scikit-learn computes on the same rows
(ties in scores included), and the intervals of the loop of scikit-learn calls it replaced."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

from fmaudit.core import intervals
from fmaudit.core.intervals import percentile_interval, resampled_rows, row_cell_counts, stream
from fmaudit.families.performance.bootstrap import bootstrap_intervals
from fmaudit.families.performance.params import FIGURES, PerformanceParams
from fmaudit.metrics.scores import expected_calibration_error, resampled_figures, score_figures


def tied(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores rounded to one decimal: many ties, some on the threshold and on the ECE bins' edges."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return labels, np.clip(0.5 + 0.3 * (labels - 0.5) + rng.normal(0, 0.25, n), 0, 1).round(1)


def per_resample(labels: np.ndarray, scores: np.ndarray, *, n_boot: int, threshold: float) -> list[tuple]:
    """(resampled rows, vectorised figures of that resample) for the first ``n_boot`` resamples."""
    rng = stream(0, "performance")
    values, which = np.unique(scores, return_inverse=True)
    rows = np.concatenate(list(resampled_rows(len(labels), n_boot=n_boot, rng=rng)))
    counts = np.concatenate(
        list(row_cell_counts(2 * which + labels, n_cells=2 * len(values), n_boot=n_boot, rng=stream(0, "performance")))
    )
    figures = resampled_figures(counts.reshape(n_boot, -1, 2), values, threshold=threshold, ece_bins=10)
    return [(rows[i], {f: figures[f][i] for f in FIGURES}) for i in range(n_boot)]


@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_every_resample_equals_scikit_learn_on_the_same_rows(threshold: float) -> None:
    labels, scores = tied(80, seed=1)
    assert len(np.unique(scores)) < 12 and (scores == threshold).any()
    for rows, ours in per_resample(labels, scores, n_boot=8, threshold=threshold):
        y, s = labels[rows], scores[rows]
        decisions = (s >= threshold).astype(int)
        assert ours["accuracy"] == pytest.approx(accuracy_score(y, decisions), abs=1e-12)
        assert ours["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, decisions), abs=1e-12)
        assert ours["f1"] == pytest.approx(f1_score(y, decisions, zero_division=0), abs=1e-12)
        assert ours["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert ours["ece"] == pytest.approx(expected_calibration_error(y, s, bins=10), abs=1e-12)


def test_resamples_with_one_class_are_undefined_where_scikit_learn_has_no_figure() -> None:
    labels = np.array([1, 0, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.1, 0.2, 0.2, 0.6, 0.6, 0.3])
    seen_one_class = 0
    for rows, ours in per_resample(labels, scores, n_boot=30, threshold=0.5):
        theirs = score_figures(labels[rows], scores[rows])
        for figure in FIGURES:
            if theirs[figure] is None:
                assert np.isnan(ours[figure]), figure
            else:
                assert ours[figure] == pytest.approx(theirs[figure], abs=1e-12), figure
        seen_one_class += theirs["roc_auc"] is None
    assert 0 < seen_one_class < 30


def test_intervals_equal_those_of_the_loop_of_scikit_learn_calls() -> None:
    """The interval the plugin reported before vectorising: score_figures per resample, rows from the stream."""
    labels, scores = tied(150, seed=2)
    params = PerformanceParams(n_boot=200, seed=3)
    rng = stream(params.seed, "performance")
    samples: dict[str, list[float]] = {figure: [] for figure in FIGURES}
    for _ in range(params.n_boot):
        rows = rng.integers(0, len(labels), len(labels))
        for figure, value in score_figures(labels[rows], scores[rows]).items():
            samples[figure].append(np.nan if value is None else value)
    ours = bootstrap_intervals(labels, scores, params)
    for figure, values in samples.items():
        theirs = percentile_interval(np.array(values), level=params.confidence)
        assert (ours[figure].low, ours[figure].high) == pytest.approx((theirs.low, theirs.high), abs=1e-12), figure
        assert ours[figure].undefined_share == theirs.undefined_share


def test_no_resamples_give_no_interval() -> None:
    labels, scores = tied(20, seed=4)
    assert set(bootstrap_intervals(labels, scores, PerformanceParams(n_boot=0)).values()) == {
        percentile_interval(np.array([]), level=0.95)
    }


def test_resampled_rows_are_a_loops_draws_whatever_the_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    loop = np.stack([rng.integers(0, 50, 50) for _ in range(23)])
    monkeypatch.setattr(intervals, "WEIGHTS_PER_CHUNK", 50 * 4)
    chunks = list(resampled_rows(50, n_boot=23, rng=np.random.default_rng(7)))
    assert [len(c) for c in chunks] == [4, 4, 4, 4, 4, 3]
    np.testing.assert_array_equal(np.concatenate(chunks), loop)
