"""Reasons that may be proxies of a sensitive attribute: on German Credit with one field planted to track sex and
one built independent of it, the first is flagged wherever it is a reason and the second nowhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fmaudit.data import PreparedData
from fmaudit.families.explanations.plugin import ExplanationsParams, ExplanationsPlugin
from fmaudit.spec import Spec
from fmaudit.testing import check_plugin
from tests.support.explanations import context_for, synthetic_classifier


def plant(data: PreparedData) -> None:
    """housing tracks sex (mostly 'rent' for women, 'own' for men); purpose alternates within each sex group of
    the test split, so it is independent of sex there."""
    rng = np.random.default_rng(0)
    female = (data.sensitive["sex"] == "female").to_numpy()
    housing = np.where(female, "rent", "own")
    data.frame["housing"] = np.where(rng.random(len(female)) < 0.85, housing, "for free")
    purpose = data.frame["purpose"].to_numpy(copy=True)
    for group in (True, False):
        rows = data.test_idx[female[data.test_idx] == group]
        purpose[rows] = np.resize(["car (new)", "radio/television"], len(rows))
    data.frame["purpose"] = purpose


def test_a_reason_field_tracking_a_sensitive_attribute_is_flagged_and_an_independent_one_is_not(
    wide_spec: Spec, wide_data: PreparedData, tmp_path: Path
) -> None:
    plant(wide_data)
    weights = {"housing": {"own": 1.0, "rent": -1.0}, "purpose": {"car (new)": -2.0, "radio/television": 2.0}}
    context = context_for(wide_spec, wide_data, synthetic_classifier(wide_data, weights), tmp_path)
    findings = check_plugin(ExplanationsPlugin(), context, ExplanationsParams(samples=4, examples=0))

    association = next(t for t in findings.tables if t.title.startswith("Association of each reason field"))
    rows = {row[1]: dict(zip(association.columns, row, strict=True)) for row in association.rows}
    assert set(rows) == {f for f in context.plan.fields if f not in context.plan.sensitive_fields}
    assert rows["housing"]["sex"] > 0.6 and rows["housing"]["Possible proxy of"] == "sex"  # type: ignore[operator]
    assert rows["purpose"]["sex"] < 0.05 and rows["purpose"]["Possible proxy of"] == ""  # type: ignore[operator]
    assert association.rows[0][1] == "housing"  # strongest first

    notices = next(t for t in findings.tables if t.title.startswith("Adverse-action notices"))
    column = notices.columns.index("Reasons that may be proxies (association)")
    housing = notices.columns.index("Reason 1"), notices.columns.index("Reason 4") + 1
    gives_housing = ["Housing" in row[housing[0] : housing[1]] for row in notices.rows]
    assert 0 < sum(gives_housing) < len(notices.rows)  # some notices give it, some do not
    for row, given in zip(notices.rows, gives_housing, strict=True):
        assert str(row[column]).startswith("housing ~ sex (") if given else row[column] == "", row
    share = next(m.value for m in findings.metrics if m.path == "explanations.notices.proxy_reason_share")
    assert share == sum(gives_housing) / len(notices.rows)
    assert f"{share:.0%} of notices give a reason that may be a proxy of a sensitive attribute: housing ~ sex" in (
        findings.summary
    )


def test_the_proxy_threshold_lies_strictly_between_0_and_1() -> None:
    assert ExplanationsParams().proxy_threshold == 0.2
    for bad in (0, 1, 1.5):
        with pytest.raises(ValueError, match="proxy_threshold"):
            ExplanationsParams(proxy_threshold=bad)
