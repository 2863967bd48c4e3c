"""Vectorised bootstrap: resample once, compute every statistic on all resamples at once.

Resampling n rows with replacement makes the counts of any partition of the rows
(e.g. group x label x decision cells) multinomial with the cells' shares as
probabilities, so statistics that depend only on such counts are bootstrapped
exactly by drawing the counts directly, without touching the rows. Statistics of
row values (mean scores, calibration) use row-level resampling weights or drawn
row indices, built in chunks so memory stays bounded, or count draws over cells
that summarise the values (fairness: score bins). Intervals are percentile
intervals (Efron & Tibshirani 1993), as fairlearn's ``MetricFrame(n_boot=..., ci_quantiles=...)``; a
proportion at 0 or 1, where every resample repeats the point, takes the exact (Clopper–Pearson) interval, and
an interval resting on too few defined resamples is withheld (``min_defined``, ``UNDEFINED_WITHHELD``).

Every figure family draws from its own stream, keyed by (seed, figure path), so adding an attribute,
changing a sample size or enabling another recipe never shifts another figure's draws.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

WEIGHTS_PER_CHUNK = 4_000_000
"""Upper bound on resamples x rows held in memory at once by ``row_weights``."""


def stream_seed(seed: int, *key: str | int) -> np.random.SeedSequence:
    """The seed sequence of the stream named by ``key`` (a figure path, and a row id where draws are per row).

    The key is hashed with SHA-256, not Python's ``hash()`` (salted per process), so a stream is the same in
    every run and on every machine; any integer seed (negative too) is accepted.
    """
    name = "\x1f".join(str(part) for part in (seed, *key)).encode()
    words = np.frombuffer(hashlib.sha256(name).digest(), dtype="<u4")
    return np.random.SeedSequence([int(w) for w in words])


def stream(seed: int, *key: str | int) -> np.random.Generator:
    """A generator for the draws of one figure family (``key``: its figure path, then any per-row part)."""
    return np.random.default_rng(stream_seed(seed, *key))


def torch_seed(seed: int, *key: str | int) -> int:
    """An integer seed for the stream named by ``key``, for libraries that take one (torch, TextAttack)."""
    return int(stream_seed(seed, *key).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True)
class Interval:
    low: float | None
    high: float | None
    undefined_share: float
    """Share of resamples in which the statistic was undefined (e.g. a group drawn empty)."""


def resample_cell_counts(counts: np.ndarray, *, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap resamples of cell counts: shape ``(n_boot, *counts.shape)``, each summing to ``counts.sum()``."""
    flat = counts.reshape(-1).astype(np.float64)
    total = int(flat.sum())
    if total == 0:
        return np.zeros((n_boot, *counts.shape), dtype=np.int64)
    draws = rng.multinomial(total, flat / total, size=n_boot)
    return draws.reshape(n_boot, *counts.shape)


def cell_count_chunks(counts: np.ndarray, *, n_boot: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """``resample_cell_counts`` of a flat ``counts`` in chunks of shape ``(k, cells)``, at most about
    ``WEIGHTS_PER_CHUNK`` numbers each; the draws are those of one call, however the chunks fall."""
    per_chunk = max(1, WEIGHTS_PER_CHUNK // max(len(counts), 1))
    for done in range(0, n_boot, per_chunk):
        yield resample_cell_counts(counts, n_boot=min(per_chunk, n_boot - done), rng=rng)


def resampled_rows(n_rows: int, *, n_boot: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Row indices of bootstrap resamples, in chunks of shape ``(k, n_rows)``.

    Resample i is the stream's i-th ``rng.integers(0, n_rows, n_rows)``, drawn one resample at a time, so the
    indices are those of a Python loop over resamples, whatever the chunk size.
    """
    per_chunk = max(1, WEIGHTS_PER_CHUNK // max(n_rows, 1))
    for done in range(0, n_boot, per_chunk):
        k = min(per_chunk, n_boot - done)
        rows = np.empty((k, n_rows), dtype=np.int64)
        for i in range(k):
            rows[i] = rng.integers(0, n_rows, n_rows)
        yield rows


def row_cell_counts(cells: np.ndarray, *, n_cells: int, n_boot: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Per resample of the rows (``resampled_rows``), how many drawn rows fall in each cell: chunks of shape
    ``(k, n_cells)``, where row i belongs to cell ``cells[i]``. Statistics of the cells then cost
    ``n_cells``, not ``n_rows``, per resample."""
    cells = np.asarray(cells, dtype=np.int64)
    for rows in resampled_rows(len(cells), n_boot=n_boot, rng=rng):
        offsets = (np.arange(len(rows)) * n_cells)[:, None]
        yield np.bincount((cells[rows] + offsets).ravel(), minlength=len(rows) * n_cells).reshape(-1, n_cells)


def row_weights(n_rows: int, *, n_boot: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Row-resampling weights (how often each row was drawn), in chunks of shape ``(k, n_rows)``."""
    per_chunk = max(1, WEIGHTS_PER_CHUNK // max(n_rows, 1))
    done = 0
    while done < n_boot:
        k = min(per_chunk, n_boot - done)
        draws = rng.integers(0, n_rows, size=(k, n_rows))
        offsets = (np.arange(k) * n_rows)[:, None]
        yield np.bincount((draws + offsets).ravel(), minlength=k * n_rows).reshape(k, n_rows)
        done += k


def percentile_interval(samples: np.ndarray, *, level: float) -> Interval:
    """Percentile interval over resamples (axis 0), ignoring resamples where the statistic is undefined."""
    samples = np.asarray(samples, dtype=np.float64)
    if not samples.size:
        return Interval(None, None, 1.0)
    bounds = percentile_bounds(samples, level=level)
    return _interval(float(bounds.low), float(bounds.high), float(bounds.undefined_share))


def _interval(low: float, high: float, undefined_share: float) -> Interval:
    """One statistic's bounds as an Interval: None for both where withheld (NaN)."""
    defined = bool(np.isfinite(low))
    return Interval(float(low) if defined else None, float(high) if defined else None, float(undefined_share))


UNDEFINED_WITHHELD = 0.1
"""An interval is withheld where the statistic was undefined in more than this share of resamples: the rest
are the resamples in which, say, a small group happened to be drawn with the rows it needs, and a percentile
interval over them describes that conditional draw, not the sample."""


def min_defined(level: float) -> int:
    """Defined resamples a percentile interval at ``level`` needs: enough that each tail holds at least one
    (40 at 95%); from fewer the bound would be an extreme resample, not a quantile."""
    return math.ceil(2.0 / (1.0 - level) - 1e-9)


@dataclass(frozen=True)
class Bounds:
    """Percentile intervals of many statistics at once; NaN where withheld: fewer defined resamples than
    ``min_defined(level)``, or more than ``UNDEFINED_WITHHELD`` of them undefined."""

    low: np.ndarray
    high: np.ndarray
    undefined_share: np.ndarray
    """Per statistic, the share of resamples in which it was undefined (NaN or infinite)."""


def percentile_bounds(samples: np.ndarray, *, level: float) -> Bounds:
    """Percentile intervals over resamples (axis 0) for every statistic in the other axes, in one call.

    The same interval as ``percentile_interval`` per statistic, vectorised so that simulations over many
    data sets (coverage checks) and many groups cost one quantile call.
    """
    samples = np.asarray(samples, dtype=np.float64)
    finite = np.isfinite(samples)
    defined = finite.sum(axis=0)
    tail = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: masked below
        low, high = np.nanquantile(np.where(finite, samples, np.nan), [tail, 1.0 - tail], axis=0)
    enough = (defined >= min_defined(level)) & (1.0 - defined / samples.shape[0] <= UNDEFINED_WITHHELD)
    return Bounds(
        low=np.where(enough, low, np.nan),
        high=np.where(enough, high, np.nan),
        undefined_share=1.0 - defined / samples.shape[0],
    )


def exact_bounds(events: np.ndarray, trials: np.ndarray, *, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper–Pearson (exact binomial) interval of ``events`` out of ``trials``, elementwise; NaN where there
    are no trials. At 0 of n its upper bound is about 3.7/n at two-sided 95% (the one-sided rule of three: 3/n),
    never 0."""
    from scipy.stats import beta

    events, trials = np.asarray(events, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    tail = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(events > 0, beta.ppf(tail, events, trials - events + 1), 0.0)
        high = np.where(events < trials, beta.ppf(1.0 - tail, events + 1, trials - events), 1.0)
    empty = trials <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def at_boundary(events: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Where a proportion is 0 or 1 (and defined): every resample repeats it, so its percentile interval is a
    point that claims certainty; these take ``exact_bounds`` instead."""
    events, trials = np.asarray(events, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    return (trials > 0) & ((events == 0) | (events == trials))


def proportion_bounds(bounds: Bounds, events: np.ndarray, trials: np.ndarray, *, level: float) -> Bounds:
    """``bounds`` of the proportions ``events / trials``, with the exact interval where a proportion sits at
    0 or 1 (``at_boundary``)."""
    edge = at_boundary(events, trials)
    if not edge.any():
        return bounds
    low, high = exact_bounds(events, trials, level=level)
    return Bounds(np.where(edge, low, bounds.low), np.where(edge, high, bounds.high), bounds.undefined_share)


def group_intervals(
    resampled: dict[str, np.ndarray],
    *,
    level: float,
    proportions: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, list[Interval]]:
    """Percentile intervals of per-group statistics resampled as ``(n_boot, groups)``, per statistic and group;
    a statistic in ``proportions`` (name -> per-group events and trials) is exact where it sits at 0 or 1."""
    found = {}
    for name, samples in resampled.items():
        bounds = percentile_bounds(samples, level=level)
        if proportions and name in proportions:
            bounds = proportion_bounds(bounds, *proportions[name], level=level)
        found[name] = [
            _interval(low, high, share)
            for low, high, share in zip(bounds.low, bounds.high, bounds.undefined_share, strict=True)
        ]
    return found
