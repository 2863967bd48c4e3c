"""The association of fields with sensitive attributes: scipy's Cramér's V, the bias correction, quantile bins
for numeric fields, a planted proxy found and an independent field not, and German Credit's known proxies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats.contingency import association, crosstab

from fmaudit.data import prepare
from fmaudit.metrics.association import QUANTILE_BINS, Association, associations
from fmaudit.spec import Spec


def planted(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A sensitive attribute, fields built to track it (one categorical, one numeric) and fields drawn apart."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], size=n)
    tracks = np.where(
        rng.random(n) < 0.8, np.where(group == "a", "rent", "own"), rng.choice(["rent", "own", "free"], n)
    )
    fields = pd.DataFrame(
        {
            "housing": tracks,
            "income": rng.normal(size=n) + 1.5 * (group == "a"),
            "purpose": rng.choice([f"p{i}" for i in range(10)], size=n),
            "amount": rng.lognormal(size=n),
        }
    )
    return fields, pd.DataFrame({"sex": group})


def by_field(found: tuple[Association, ...]) -> dict[str, Association]:
    return {a.field: a for a in found}


def test_a_planted_proxy_is_strongly_associated_and_an_independent_field_is_not() -> None:
    fields, attributes = planted()
    found = by_field(associations(fields, attributes))
    assert found["housing"].value > 0.7 and found["income"].value > 0.5
    assert found["purpose"].value < 0.05 and found["amount"].value < 0.05
    assert found["income"].binned and found["amount"].binned and not found["housing"].binned
    assert {a.attribute for a in found.values()} == {"sex"}


def test_plain_v_is_scipys_and_the_correction_removes_the_small_sample_bias() -> None:
    fields, attributes = planted(n=300)
    plain = by_field(associations(fields, attributes, corrected=False))
    for name in ("housing", "purpose"):
        table = crosstab(fields[name], attributes["sex"]).count
        assert plain[name].value == pytest.approx(association(table, method="cramer"), abs=1e-12)
    binned = pd.qcut(fields["income"], QUANTILE_BINS)
    assert plain["income"].value == pytest.approx(
        association(crosstab(binned.astype(str), attributes["sex"]).count, method="cramer"), abs=1e-12
    )
    # Ten categories, 300 rows, no dependence: the plain form shows ~0.17 of chance; the corrected one ~0.
    corrected = by_field(associations(fields, attributes))
    assert plain["purpose"].value > 0.1 and corrected["purpose"].value < 0.05
    assert corrected["housing"].value == pytest.approx(plain["housing"].value, abs=0.02)  # a real effect stays


def test_single_values_missing_values_and_small_integer_fields() -> None:
    fields = pd.DataFrame({"constant": ["x"] * 6, "rate": [1, 2, 1, 2, 1, 2], "gap": [None, "y", None, "y", "z", "z"]})
    attributes = pd.DataFrame({"sex": ["f", "m", "f", "m", "f", "m"]})
    found = by_field(associations(fields, attributes, corrected=False))
    assert found["constant"].value == 0.0
    assert found["rate"].value == pytest.approx(1.0) and not found["rate"].binned  # few values: categories
    assert found["gap"].value == pytest.approx(association(np.array([[2, 0], [0, 2], [1, 1]]), method="cramer"))
    with pytest.raises(ValueError, match="same rows"):
        associations(fields, attributes.iloc[::-1])


def test_german_credit_housing_and_employment_track_the_age_group(spec_dict: dict[str, Any], tmp_path: Path) -> None:
    """The validity issue's figures: on all 1000 rows, with age grouped at 25 as the demo does."""
    data = prepare(Spec.model_validate(spec_dict).data, base_dir=tmp_path)
    frame, age_group = data.frame, data.sensitive[["age_group"]]
    assert len(frame) == 1000
    wanted = ["housing", "present_employment_since", "purpose"]
    plain = by_field(associations(frame[wanted], age_group, corrected=False))
    corrected = by_field(associations(frame[wanted], age_group))
    assert plain["housing"].value == pytest.approx(0.314, abs=0.001)
    assert corrected["housing"].value == pytest.approx(0.311, abs=0.001)
    assert plain["present_employment_since"].value == pytest.approx(0.212, abs=0.001)
    assert corrected["present_employment_since"].value == pytest.approx(0.202, abs=0.001)
    assert corrected["purpose"].value < 0.2  # not every field is a proxy of age
