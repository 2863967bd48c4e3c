"""The data audit on generated data: each planted defect (duplicates across the split, a column missing mostly for
one group, an under-represented group, a leak column, values out of range, a constant column) is found, and only
it; a clean set gives no finding; the tests' p-values and the intervals agree with scipy and statsmodels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from fmaudit.core.errors import SpecError
from fmaudit.core.findings import PluginFindings
from fmaudit.engine.planning import Plan, plan
from fmaudit.families.data.params import DataParams
from fmaudit.families.data.plugin import DataPlugin
from fmaudit.families.data.shift import column_shifts
from fmaudit.plugins.context import AuditContext, Predictions
from fmaudit.testing import check_plugin

CLEAN_POPULATION = {"sex": {"female": 0.5, "male": 0.5}}


def generated(n: int = 600, *, female_share: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """Applicants with a weakly informative income, an uninformative region and age: no defect."""
    rng = np.random.default_rng(seed)
    income = rng.normal(3000, 800, n).round(2)
    label = rng.random(n) < 1 / (1 + np.exp(-(income - 3000) / 1200))
    return pd.DataFrame(
        {
            "sex": np.where(rng.random(n) < female_share, "female", "male"),
            "income": income,
            "age": rng.integers(18, 80, n),
            "savings": rng.exponential(5000, n).round(2),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "outcome": np.where(label, "good", "bad"),
        }
    )


def audit(
    frame: pd.DataFrame,
    where: Path,
    params: dict[str, Any] | None = None,
    *,
    kind: str = "tabular",
    template: str = "income {income}; age {age}; savings {savings}; region {region}; sex {sex}",
) -> tuple[Plan, PluginFindings]:
    frame.to_csv(where / "applicants.csv", index=False)
    spec = {
        "name": "data-audit",
        "model": {"kind": kind} if kind == "tabular" else {"base": "minilm"},
        "data": {
            "source": "applicants.csv",
            "label": "outcome",
            "positive": "good",
            "sensitive": {"sex": {"column": "sex"}},
            "template": template,
            "split": {"test_size": 0.3, "seed": 1},
        },
        "training": {"epochs": 1},
        "audits": {"data": params or {}},
    }
    path = where / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    the_plan = plan(path)
    data, rows = the_plan.data, the_plan.data.test_idx
    context = AuditContext(
        spec=the_plan.loaded.spec,
        data=data,
        model=None,  # type: ignore[arg-type]  # the data audit reads no model
        predictions=Predictions(row_ids=rows, labels=data.labels[rows], scores=np.full(len(rows), 0.5)),
        training=None,  # type: ignore[arg-type]
        work_dir=where,
        plan=the_plan.audit_plan,
    )
    return the_plan, check_plugin(DataPlugin(), context, the_plan.params["data"])


def figures(section: PluginFindings) -> dict[str, float | None]:
    return {m.path: m.value for m in section.metrics}


def checks(section: PluginFindings) -> list[str]:
    table = next(t for t in section.tables if t.title == "Data findings")
    return sorted(str(row[0]) for row in table.rows if row[0] != "none")


def test_a_clean_generated_set_gives_no_finding(tmp_path: Path) -> None:
    the_plan, section = audit(generated(), tmp_path, {"population": CLEAN_POPULATION, "ranges": {"age": [18, 100]}})
    found = figures(section)
    assert checks(section) == [] and found["data.findings"] == 0
    assert sorted(m.path for m in section.metrics) == sorted(the_plan.metric_paths["data"])
    assert found["data.leakage.max_roc_auc"] is not None and 0.55 < found["data.leakage.max_roc_auc"] < 0.85
    assert found["data.shift.columns"] == 0 and found["data.duplicates.across_split"] == 0
    assert section.summary.endswith("no finding.")


def test_duplicates_across_the_split_are_found(tmp_path: Path) -> None:
    frame = generated()
    copies = frame.iloc[:60].copy()
    near = frame.iloc[60:70].copy()
    near["region"] = "  " + near["region"].str.upper() + " "  # the same applicant, typed differently
    the_plan, section = audit(pd.concat([frame, copies, near], ignore_index=True), tmp_path)
    found = figures(section)
    assert found["data.duplicates.exact"] == 60 and found["data.duplicates.near"] == 10
    # Independently: test rows whose (normalised) columns equal a training row's.
    data = the_plan.data
    keyed = data.frame.drop(columns="outcome").astype(str).apply(lambda c: c.str.strip().str.lower())
    rows = keyed.apply(tuple, axis=1)
    training = set(rows.iloc[data.train_idx])
    expected = sum(row in training for row in rows.iloc[data.test_idx])
    assert expected > 5 and found["data.duplicates.across_split"] == expected
    raw = data.frame.drop(columns="outcome").astype(str).apply(tuple, axis=1)
    exact = sum(row in set(raw.iloc[data.train_idx]) for row in raw.iloc[data.test_idx])
    assert found["data.duplicates.input_across_split"] == exact < expected  # the model reads the values as typed
    assert checks(section) == ["duplicates"] * 4
    pairs = next(t for t in section.tables if t.title == "Test rows repeating a training row")
    assert pairs.applicant_rows and len(pairs.rows) == expected
    assert all(rows.iloc[test] == rows.iloc[train] for test, train in pairs.rows)
    assert all(test in set(data.test_idx) and train in set(data.train_idx) for test, train in pairs.rows)


def test_a_text_model_input_repeated_across_the_split_is_found_apart_from_the_rows(tmp_path: Path) -> None:
    """Rows that differ only in a column the template leaves out are different rows but the same model input."""
    frame = generated(400)
    frame["age"] = np.arange(len(frame))  # every row distinct
    frame["income"] = frame["income"].iloc[:100].tolist() * 4  # ... but the text repeats
    frame["region"] = frame["region"].iloc[:100].tolist() * 4
    the_plan, section = audit(frame, tmp_path, kind="text", template="income {income}; region {region}")
    found = figures(section)
    data = the_plan.data
    texts = list(data.texts)
    training = {texts[i] for i in data.train_idx}
    assert found["data.duplicates.across_split"] == 0
    assert found["data.duplicates.input_across_split"] == sum(texts[i] in training for i in data.test_idx) > 50


def test_a_column_missing_mostly_for_one_group_is_found_and_its_p_value_is_fishers(tmp_path: Path) -> None:
    from scipy.stats import fisher_exact

    frame = generated()
    rng = np.random.default_rng(5)
    rate = np.where(frame["sex"] == "female", 0.4, 0.01)
    frame.loc[rng.random(len(frame)) < rate, "income"] = np.nan
    _, section = audit(frame, tmp_path)
    found = figures(section)
    assert found["data.missing.group_gaps"] == 1 and found["data.missing.columns"] == 1
    assert checks(section) == ["missing by group"]
    (row,) = next(t for t in section.tables if t.title == "Missing values by column and group").rows
    table = pd.crosstab(frame["sex"], frame["income"].isna())
    expected = fisher_exact(table.to_numpy()[:, ::-1]).pvalue  # one test in the family: Holm leaves it
    assert row[0] == "income" and row[4] == "Fisher exact" and row[5] == pytest.approx(expected, rel=1e-9)
    assert found["data.missing.share"] == pytest.approx(frame["income"].isna().sum() / (len(frame) * 5))


def test_an_under_represented_group_is_found_on_its_interval_and_its_interval_is_wilsons(tmp_path: Path) -> None:
    from statsmodels.stats.proportion import proportion_confint

    the_plan, section = audit(generated(female_share=0.2), tmp_path, {"population": CLEAN_POPULATION})
    found = figures(section)
    assert found["data.representation.flagged"] == 4  # women under, men over, in both splits
    assert checks(section) == ["representation"] * 4
    metric = next(m for m in section.metrics if m.path == "data.representation.sex.female.test_share")
    data = the_plan.data
    women = int((data.sensitive["sex"].iloc[data.test_idx] == "female").sum())
    low, high = proportion_confint(women, len(data.test_idx), alpha=0.05, method="wilson")
    assert metric.value == women / len(data.test_idx)
    assert (metric.ci_low, metric.ci_high) == pytest.approx((low, high), rel=1e-12)
    gap = next(m for m in section.metrics if m.path == "data.representation.sex.female.test_share_gap")
    assert gap.ci_high == pytest.approx(high - 0.5) and gap.ci_high < -0.05


def test_a_share_within_the_tolerance_of_its_interval_is_not_flagged(tmp_path: Path) -> None:
    """40% women against a population of 50%: the gap's interval reaches inside the 0.15 tolerance."""
    _, section = audit(generated(female_share=0.4), tmp_path, {"population": CLEAN_POPULATION, "tolerance": 0.15})
    assert figures(section)["data.representation.flagged"] == 0


def test_a_group_too_small_for_the_fairness_figures_is_named(tmp_path: Path) -> None:
    _, section = audit(generated(female_share=0.04), tmp_path)
    table = next(t for t in section.tables if t.title == "Data findings")
    assert figures(section)["data.representation.small_groups"] == 1
    assert [row[:2] for row in table.rows] == [("group size", "sex: female")]


def test_a_leak_column_is_flagged(tmp_path: Path) -> None:
    frame = generated()
    rng = np.random.default_rng(2)
    noise = rng.random(len(frame)) < 0.02
    frame["status"] = np.where((frame["outcome"] == "good") ^ noise, "repaid", "defaulted")
    frame["score"] = (frame["outcome"] == "good") * 10.0 + rng.normal(0, 1, len(frame))  # numeric, ranked
    _, section = audit(frame, tmp_path)
    leaks = next(t for t in section.tables if t.title == "Each column alone as a predictor of the label")
    flagged = {row[0]: row[2] for row in leaks.rows if row[3] == "FLAG"}
    assert set(flagged) == {"status", "score"} and min(flagged.values()) > 0.95  # type: ignore[type-var]
    assert figures(section)["data.leakage.columns"] == 2 and checks(section) == ["leakage", "leakage"]


def test_values_out_of_range_and_a_constant_column_are_found(tmp_path: Path) -> None:
    frame = generated()
    frame.loc[[3, 4, 5], "age"] = 150
    frame["country"] = "de"
    _, section = audit(frame, tmp_path, {"ranges": {"age": [18, 100]}})
    found = figures(section)
    assert found["data.ranges.age.out_of_range"] == 3 and found["data.ranges.out_of_range"] == 3
    assert found["data.columns.constant"] == 1 and found["data.columns.near_constant"] == 0
    assert checks(section) == ["constant", "range"]


def test_shift_is_judged_on_the_lower_bound_and_the_tests_are_scipys() -> None:
    from scipy.stats import chi2_contingency, ks_2samp
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(4)
    n = 1000
    train, test = np.arange(700), np.arange(700, n)
    frame = pd.DataFrame(
        {
            "same": rng.normal(0, 1, n),
            "moved": np.concatenate([rng.normal(0, 1, 700), rng.normal(1, 1, 300)]),
            "colour": rng.choice(["red", "green", "blue"], n),
        }
    )
    found = {s.column: s for s in column_shifts(frame, train, test, DataParams())}
    assert found["moved"].shifted and not found["same"].shifted and not found["colour"].shifted
    assert found["same"].drift.value > 0 and found["same"].low == 0.0  # sampling alone lifts the estimate
    raw = [
        ks_2samp(frame["same"][train], frame["same"][test]).pvalue,
        ks_2samp(frame["moved"][train], frame["moved"][test]).pvalue,
        chi2_contingency(pd.crosstab(frame.index >= 700, frame["colour"]).to_numpy(), correction=False).pvalue,
    ]
    assert [found[c].p_value for c in ("same", "moved", "colour")] == pytest.approx(raw, rel=1e-9)
    adjusted = multipletests(raw, method="holm")[1]
    assert [found[c].p_adjusted for c in ("same", "moved", "colour")] == pytest.approx(list(adjusted), rel=1e-9)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"ranges": {"salary": [0, 1]}}, "audits.data.ranges.salary: unknown column"),
        ({"ranges": {"region": [0, 1]}}, "audits.data.ranges.region: expected a numeric column"),
        ({"population": {"sex": {"female": 0.5, "other": 0.5}}}, "audits.data.population.sex: unknown group 'other'"),
        (
            {"population": {"sex": {"female": 0.5, "male": 0.3}}},
            "audits.data.population.sex: expected shares summing to 1; got 0.8",
        ),
        ({"population": {"race": {"a": 1.0}}}, "audits.data.population.race: unknown attribute"),
    ],
)
def test_bad_parameters_are_spec_errors_naming_the_key(tmp_path: Path, params: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        audit(generated(100), tmp_path, params)
    assert expected in str(caught.value)


def test_a_backwards_range_is_a_parameter_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"audits\.data\.ranges.*min <= max; got min > max for age"):
        audit(generated(100), tmp_path, {"ranges": {"age": [100, 18]}})
