"""Counterfactual flips on models whose dependence on the attribute is known exactly."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pytest

from fmaudit.families.fairness.counterfactual import counterfactual_flips

Scorer = Callable[[Sequence[Mapping[str, object]]], np.ndarray]


def applicants(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"sex": rng.choice(["f", "m"], size=n), "income": rng.integers(1_000, 5_000, size=n)})


def flips(frame: pd.DataFrame, score: Callable[[Mapping[str, object]], float]):  # type: ignore[no-untyped-def]
    def score_records(records: Sequence[Mapping[str, object]]) -> np.ndarray:
        return np.array([score(r) for r in records])

    rows = np.arange(len(frame))
    return counterfactual_flips(
        attribute="sex",
        column="sex",
        frame=frame,
        groups=frame["sex"],
        rows=rows,
        scores=score_records(frame.to_dict("records")),
        score_records=score_records,
        target_groups=["f", "m"],
    )


def test_a_model_that_decides_on_the_attribute_alone_flips_every_decision() -> None:
    frame = applicants()
    result = flips(frame, lambda r: 0.7 if r["sex"] == "m" else 0.3)
    assert result.pairs == len(frame) and result.flips == len(frame) and result.flip_rate == 1.0
    by_direction = {(d.from_group, d.to_group): d for d in result.directions}
    assert by_direction["f", "m"].pairs == (frame["sex"] == "f").sum()
    assert by_direction["f", "m"].mean_shift == pytest.approx(0.4)
    assert by_direction["m", "f"].mean_shift == pytest.approx(-0.4)
    assert result.mean_abs_shift == pytest.approx(0.4)


def test_a_model_blind_to_the_attribute_flips_nothing() -> None:
    frame = applicants()
    result = flips(frame, lambda r: float(r["income"]) / 5_000)
    assert result.flips == 0 and result.flip_rate == 0.0 and result.mean_abs_shift == 0.0


def test_a_model_using_the_attribute_for_some_applicants_flips_exactly_those() -> None:
    """Above an income of 3,000 the decision follows sex; below it every applicant is approved."""
    frame = applicants(seed=3)
    result = flips(frame, lambda r: (0.8 if r["sex"] == "m" else 0.2) if r["income"] > 3_000 else 0.9)
    dependent = frame["income"] > 3_000
    assert result.flips == dependent.sum()
    assert result.flip_rate == pytest.approx(dependent.mean())
    women = frame["sex"] == "f"
    assert result.mean_shift == pytest.approx(
        0.6 * ((dependent & women).sum() - (dependent & ~women).sum()) / len(frame)
    )
    largest = result.examples[0]
    assert abs(largest.counterfactual_score - largest.score) == pytest.approx(0.6)
    assert frame.loc[largest.row, "income"] > 3_000
