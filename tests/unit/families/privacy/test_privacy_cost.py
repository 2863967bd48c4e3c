"""The price of privacy: paired intervals of the accuracy drop against the twin, checked against an independent
row bootstrap and the closed-form paired-proportions interval (the sweep is checked in test_plugin_contract)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from fmaudit.core.findings import Findings
from fmaudit.families.privacy.cost import twin_cost
from fmaudit.plugins.context import ComparedModel, Predictions


def planted_pair(n: int = 3000) -> tuple[Predictions, Predictions, pd.DataFrame]:
    """A twin right on ~80% of rows; the DP model the same except wrong on 10% of group B's rows the twin got
    right and 2% of group A's (and right on 1% the twin got wrong): a paired, group-dependent drop."""
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, n)
    group = np.where(rng.random(n) < 0.4, "B", "A")
    twin_right = rng.random(n) < 0.8
    lose = twin_right & (rng.random(n) < np.where(group == "B", 0.10, 0.02))
    gain = ~twin_right & (rng.random(n) < 0.01)
    dp_right = (twin_right & ~lose) | gain

    def scores(right: np.ndarray) -> np.ndarray:
        decisions = np.where(right, labels, 1 - labels)
        return np.where(decisions == 1, 0.75, 0.25)

    rows = np.arange(n)
    return (
        Predictions(rows, labels, scores(dp_right)),
        Predictions(rows, labels, scores(twin_right)),
        pd.DataFrame({"group": group}),
    )


def row_bootstrap(dp: np.ndarray, twin: np.ndarray, *, n_boot: int, seed: int) -> tuple[float, float]:
    """The textbook paired bootstrap: resample rows, score both models on the same resample."""
    rng = np.random.default_rng(seed)
    drops = np.empty(n_boot)
    for b in range(n_boot):
        take = rng.integers(0, len(dp), len(dp))
        drops[b] = twin[take].mean() - dp[take].mean()
    low, high = np.quantile(drops, [0.025, 0.975])
    return float(low), float(high)


def paired_wald(dp: np.ndarray, twin: np.ndarray) -> tuple[float, float]:
    """Closed form for the difference of paired proportions: (b - c) / n with variance ((b + c)/n - d^2) / n,
    b = only the twin right, c = only the DP model right (Agresti, Categorical Data Analysis, 10.1)."""
    n = len(dp)
    b, c = np.sum(twin & ~dp), np.sum(~twin & dp)
    d = (b - c) / n
    half = norm.ppf(0.975) * np.sqrt(((b + c) / n - d**2) / n)
    return float(d - half), float(d + half)


def test_paired_intervals_agree_with_an_independent_bootstrap_and_the_closed_form() -> None:
    dp, twin, groups = planted_pair()
    cost = twin_cost(
        own=Findings(),
        own_predictions=dp,
        twin=ComparedModel("twin", "twin", None, None, twin),  # type: ignore[arg-type]  # cost reads predictions
        sensitive=groups,
        n_boot=4000,
        confidence=0.95,
        seed=0,
    )
    metrics = {m.path: m for m in cost.metrics}
    dp_right, twin_right = dp.decisions == dp.labels, twin.decisions == twin.labels
    for path, rows in (
        ("privacy.cost.accuracy_drop", np.ones(len(dp_right), dtype=bool)),
        ("privacy.cost.group.groups.A.accuracy_drop", groups["group"].to_numpy() == "A"),
        ("privacy.cost.group.groups.B.accuracy_drop", groups["group"].to_numpy() == "B"),
    ):
        figure = metrics[path]
        assert figure.value == pytest.approx(twin_right[rows].mean() - dp_right[rows].mean())
        low, high = paired_wald(dp_right[rows], twin_right[rows])
        assert (figure.ci_low, figure.ci_high) == pytest.approx((low, high), abs=0.003), path
        if path == "privacy.cost.accuracy_drop":  # the group intervals resample group sizes too; checked above
            boot = row_bootstrap(dp_right, twin_right, n_boot=4000, seed=5)
            assert (figure.ci_low, figure.ci_high) == pytest.approx(boot, abs=0.002)
    # Paired: far narrower than treating the two accuracies as independent samples would give.
    overall = metrics["privacy.cost.accuracy_drop"]
    p1, p2, n = twin_right.mean(), dp_right.mean(), len(dp_right)
    unpaired = 2 * norm.ppf(0.975) * np.sqrt(p1 * (1 - p1) / n + p2 * (1 - p2) / n)
    assert overall.ci_high - overall.ci_low < 0.5 * unpaired
    # The planted group gap is found: B lost more than A, and A's interval excludes B's drop.
    a, b = metrics["privacy.cost.group.groups.A.accuracy_drop"], metrics["privacy.cost.group.groups.B.accuracy_drop"]
    assert b.value > a.value and a.ci_high < b.value


def test_a_model_identical_to_its_twin_costs_exactly_nothing() -> None:
    dp, _, groups = planted_pair(400)
    cost = twin_cost(
        own=Findings(),
        own_predictions=dp,
        twin=ComparedModel("twin", "twin", None, None, dp),  # type: ignore[arg-type]
        sensitive=groups,
        n_boot=200,
        confidence=0.95,
        seed=0,
    )
    drop = next(m for m in cost.metrics if m.path == "privacy.cost.accuracy_drop")
    assert (drop.value, drop.ci_low, drop.ci_high) == (0.0, 0.0, 0.0)
