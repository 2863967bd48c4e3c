"""Sensitive groups: intersections built from group codes read exactly as each row's components joined."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fmaudit.data.groups import INTERSECTION_JOIN, UNKNOWN_GROUP, intersection_groups


def test_intersections_from_group_codes_equal_each_rows_components_joined() -> None:
    rng = np.random.default_rng(3)
    sensitive = pd.DataFrame(
        {
            "sex": rng.choice(["female", "male", UNKNOWN_GROUP], 500),
            "age_group": rng.choice(["under 25", "25 and over"], 500),
            "region": rng.choice(["north", "south & east", "A/B"], 500),
        }
    ).astype(str)
    for attributes in (["sex", "age_group"], ["age_group", "sex"], ["sex", "age_group", "region"]):
        joined = sensitive[attributes].agg(INTERSECTION_JOIN.join, axis=1)  # the row-wise oracle
        built = intersection_groups(sensitive, attributes)
        assert built.tolist() == joined.tolist()
        assert built.dtype == joined.dtype and built.index.equals(joined.index)


def test_an_intersection_of_one_combination_has_one_group() -> None:
    sensitive = pd.DataFrame({"sex": ["female"] * 3, "age_group": ["under 25"] * 3}).astype(str)
    assert intersection_groups(sensitive, ["sex", "age_group"]).tolist() == ["female & under 25"] * 3
