"""The two statistics several checks share: the Wilson score interval of a proportion (Wilson 1927; good
coverage down to small counts and at 0 or n events, where a bootstrap collapses to a point) and Holm's
step-down correction over a family of tests (Holm 1979), both as statsmodels defines them."""

from __future__ import annotations

import numpy as np


def wilson(events: np.ndarray, trials: np.ndarray, *, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson interval of ``events / trials``, elementwise; NaN where there are no trials."""
    from statsmodels.stats.proportion import proportion_confint

    events, trials = np.asarray(events, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    safe = np.maximum(trials, 1.0)
    low, high = proportion_confint(events, safe, alpha=1.0 - level, method="wilson")
    empty = trials <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values of one family of tests, in the given order."""
    if not p_values:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(p) for p in multipletests(p_values, method="holm")[1]]
