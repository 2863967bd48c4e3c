"""Score-based fairness intervals (mean score, ECE per group) resampled as counts over group x score-bin x
label cells: on the full sample the row-level figures, and intervals that agree with the row-level bootstrap
(endpoints within a few % of the width, also where scores spread less than a bin is wide) and cover the true
mean score about 95% of the time."""

from __future__ import annotations

import numpy as np
import pytest

from fmaudit.core.intervals import percentile_bounds, row_weights
from fmaudit.families.fairness import group_metrics as gm
from fmaudit.metrics import confusion
from fmaudit.metrics.scores import expected_calibration_error, score_bins


def data(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    scores = rng.beta(2 + codes, 3, size=n)
    labels = (rng.random(n) < np.clip(scores + 0.05 * (codes - 1), 0, 1)).astype(int)
    return codes, labels, scores


def row_level(weights: np.ndarray, codes: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> dict:
    """Mean score and ECE per group under row weights ``(k, rows)``: the bootstrap the cells replace."""
    onehot = np.zeros((len(scores), 3 * 10))
    onehot[np.arange(len(scores)), codes * 10 + score_bins(scores, 10)] = 1.0
    n, s, y = (weights @ (onehot * v[:, None]) for v in (np.ones_like(scores), scores, labels.astype(float)))
    n, s, y = (a.reshape(-1, 3, 10) for a in (n, s, y))
    return {"mean_score": s.sum(axis=2) / n.sum(axis=2), "ece": np.abs(y - s).sum(axis=2) / n.sum(axis=2)}


def test_on_the_full_sample_the_cells_give_the_row_figures() -> None:
    codes, labels, scores = data(3000, seed=1)
    point = gm.score_metrics(gm.score_cells(codes, labels, scores, n_groups=3))
    for g in range(3):
        rows = codes == g
        assert point["mean_score"][0, g] == pytest.approx(scores[rows].mean(), abs=1e-12)
        assert point["ece"][0, g] == pytest.approx(expected_calibration_error(labels[rows], scores[rows]), abs=1e-12)


def test_binned_intervals_agree_with_the_row_bootstrap() -> None:
    """Two independent bootstraps of 5,000 resamples on 2,000 rows: endpoints within 5% of the width (their
    Monte-Carlo error alone is about 1.5%)."""
    codes, labels, scores = data(2000, seed=2)
    assert_agree(codes, labels, scores)


def test_binned_intervals_keep_the_spread_of_scores_narrower_than_a_bin() -> None:
    """A confident model: scores within 0.002 of 0.99, less than a bin's width, so bin means alone would
    resample almost no spread; the within-bin normal term keeps the row bootstrap's width."""
    codes, labels, _ = data(2000, seed=5)
    scores = 0.99 + np.random.default_rng(6).uniform(-0.002, 0.002, len(codes))
    assert len(np.unique(gm.score_cells(codes, labels, scores, n_groups=3).bin)) == 3  # one ECE bin per group
    assert_agree(codes, labels, scores)


def assert_agree(codes: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> None:
    cells = gm.score_cells(codes, labels, scores, n_groups=3)
    assert len(cells.count) < len(scores) / 2  # the cells do summarise rows
    binned = gm.resampled_score_metrics(cells, n_boot=5000, rng=np.random.default_rng(3))
    weights = np.concatenate(list(row_weights(len(scores), n_boot=5000, rng=np.random.default_rng(4))))
    rows = row_level(weights, codes, labels, scores)
    for figure in ("mean_score", "ece"):
        ours, theirs = percentile_bounds(binned[figure], level=0.95), percentile_bounds(rows[figure], level=0.95)
        width = theirs.high - theirs.low
        assert (np.abs(ours.low - theirs.low) / width).max() < 0.05, figure
        assert (np.abs(ours.high - theirs.high) / width).max() < 0.05, figure


def test_binned_intervals_of_the_mean_score_cover_the_truth() -> None:
    """200 data sets of 400 rows, 1,000 resamples each: coverage of every group's true mean score near 95%."""
    truth = 2 + np.arange(3)
    truth = truth / (truth + 3)  # the beta distributions' means
    covered = []
    for seed in range(200):
        codes, labels, scores = data(400, seed=100 + seed)
        cells = gm.score_cells(codes, labels, scores, n_groups=3)
        resampled = gm.resampled_score_metrics(cells, n_boot=1000, rng=np.random.default_rng(seed))
        bounds = percentile_bounds(resampled["mean_score"], level=0.95)
        covered.append((bounds.low <= truth) & (truth <= bounds.high))
    coverage = np.mean(covered, axis=0)
    assert ((coverage >= 0.90) & (coverage <= 0.99)).all(), coverage


def test_rows_are_summarised_chunk_by_chunk_into_the_same_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    codes, labels, scores = data(1000, seed=7)
    decisions = (scores >= 0.5).astype(int)
    whole = gm.score_cells(codes, labels, scores, n_groups=3)
    counts = confusion.confusion_counts(codes, labels, decisions, n_groups=3)
    monkeypatch.setattr(confusion, "ROWS_PER_CHUNK", 77)
    chunked = gm.score_cells(codes, labels, scores, n_groups=3)
    np.testing.assert_array_equal(confusion.confusion_counts(codes, labels, decisions, n_groups=3), counts)
    for field in ("bin", "label", "count"):
        np.testing.assert_array_equal(getattr(chunked, field), getattr(whole, field))
    np.testing.assert_allclose(chunked.score_sum, whole.score_sum, rtol=1e-12)
    np.testing.assert_allclose(chunked.score_sd, whole.score_sd, rtol=1e-6, atol=1e-9)
