"""The fairness section as the report and the gates read it, on German Credit with a scoring rule in place
of a trained model: the plugin contract, reference semantics, the named Holm family, the disparities' notes,
and the parity figures a gate reads."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest
import yaml
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import tost_proportions_2indep

from fmaudit.core.findings import PluginFindings
from fmaudit.engine.pipeline import plan
from fmaudit.families.fairness.plugin import FairnessPlugin
from fmaudit.metrics.gates import check_gate_paths, evaluate, parse_gate
from fmaudit.plugins.context import AuditContext, Predictions
from fmaudit.testing import check_plugin
from tests.support.specs import GERMAN_CREDIT_SPEC


class RuleModel:
    """Approves on the loan's duration and, when ``uses_sex``, favours single men: a known dependence."""

    kind = "text"

    def __init__(self, *, uses_sex: bool) -> None:
        self.uses_sex = uses_sex

    def score(self, record: Mapping[str, object]) -> float:
        bonus = 0.2 if self.uses_sex and record["personal_status_and_sex"] == "male : single" else 0.0
        return float(np.clip(0.9 - float(record["duration_in_month"]) / 60 + bonus, 0, 1))  # type: ignore[arg-type]

    def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray:
        return np.array([self.score(r) for r in records])


@pytest.fixture(scope="module")
def sections(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, tuple[Any, PluginFindings]]:
    """The fairness section for a rule blind to sex (False) and one that uses it (True)."""
    spec = copy.deepcopy(GERMAN_CREDIT_SPEC)
    spec["audits"]["fairness"] = {"n_boot": 400, "mitigation": False, "counterfactual_rows": 60}
    path = tmp_path_factory.mktemp("spec") / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    the_plan = plan(path)
    data, rows = the_plan.data, the_plan.data.test_idx
    found = {}
    for uses_sex in (False, True):
        model = RuleModel(uses_sex=uses_sex)
        scores = model.predict_records(data.frame.iloc[rows].to_dict("records"), template="")
        context = AuditContext(
            spec=the_plan.loaded.spec,
            data=data,
            model=model,  # type: ignore[arg-type]
            predictions=Predictions(row_ids=rows, labels=data.labels[rows], scores=scores),
            training=None,  # type: ignore[arg-type]
            work_dir=path.parent,
            plan=the_plan.audit_plan,
        )
        found[uses_sex] = (the_plan, check_plugin(FairnessPlugin(), context, the_plan.params["fairness"]))
    return found


def test_the_section_keeps_the_plugin_contract_and_produces_exactly_the_declared_paths(sections) -> None:  # type: ignore[no-untyped-def]
    """``check_plugin`` ran each section: gateable declared paths, all produced, findings.json-ready."""
    the_plan, section = sections[False]
    assert sorted(m.path for m in section.metrics) == sorted(the_plan.metric_paths["fairness"])


def test_group_gaps_are_against_the_largest_group_and_the_family_is_named(sections) -> None:  # type: ignore[no-untyped-def]
    the_plan, section = sections[True]
    metrics = {m.path: m for m in section.metrics}
    test_rows = the_plan.data.sensitive.iloc[the_plan.data.test_idx]
    largest = test_rows["sex"].value_counts().idxmax()
    assert largest == "male"
    assert metrics["fairness.sex.groups.male.selection_rate_difference"].note == "reference group"
    female = metrics["fairness.sex.groups.female.selection_rate_difference"]
    rates = {g: metrics[f"fairness.sex.groups.{g}.selection_rate"].value for g in ("male", "female")}
    assert female.value == pytest.approx(rates["female"] - rates["male"])
    assert female.ci_low < female.value < female.ci_high
    assert "reference male" in female.label
    table = next(t for t in section.tables if t.title.startswith("Are the selection-rate gaps"))
    references = {attribute: {row[2] for row in table.rows if row[0] == attribute} for attribute, *_ in table.rows}
    assert references["sex"] == {"male"} and all(len(r) == 1 for r in references.values())
    raw = [row[6] for row in table.rows]
    assert [row[7] for row in table.rows] == pytest.approx(multipletests(raw, method="holm")[1])
    assert metrics["fairness.significant_gaps"].value == sum(row[7] < 0.05 for row in table.rows)
    assert f"family of {len(raw)} tests" in metrics["fairness.significant_gaps"].note
    assert "sex: male (largest)" in metrics["fairness.significant_gaps"].note


def test_disparities_keep_fairlearns_value_and_say_the_interval_is_simultaneous(sections) -> None:  # type: ignore[no-untyped-def]
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
    )

    the_plan, section = sections[True]
    metrics = {m.path: m for m in section.metrics}
    data, rows = the_plan.data, the_plan.data.test_idx
    scores = RuleModel(uses_sex=True).predict_records(data.frame.iloc[rows].to_dict("records"), template="")
    labels, decisions = data.labels[rows], (scores >= 0.5).astype(int)
    for attribute in ("sex", "age_group"):
        groups = data.sensitive[attribute].iloc[rows].to_numpy()
        for name, fairlearns in (
            ("demographic_parity_ratio", demographic_parity_ratio),
            ("demographic_parity_difference", demographic_parity_difference),
            ("equalized_odds_difference", equalized_odds_difference),
            ("equalized_odds_ratio", equalized_odds_ratio),
        ):
            expected = fairlearns(labels, decisions, sensitive_features=groups)
            assert metrics[f"fairness.{attribute}.{name}"].value == pytest.approx(expected, abs=1e-12), (
                attribute,
                name,
            )
    # Foreign workers: one group under min_group_size leaves a single group compared, and no disparity at all.
    sizes = data.sensitive["foreign_worker"].iloc[rows].value_counts()
    assert sizes.min() < the_plan.params["fairness"].min_group_size <= sizes.max()
    assert metrics["fairness.foreign_worker.demographic_parity_ratio"].value is None
    ratio = metrics["fairness.sex.demographic_parity_ratio"]
    assert ratio.note.startswith("estimate: selection rate of female over male; interval: simultaneous over every")
    assert ratio.ci_low is not None and ratio.ci_high is not None and ratio.ci_low < ratio.value < ratio.ci_high
    table = next(t for t in section.tables if t.title == "Disparities by sex")
    assert (
        "simultaneous over every pair of compared groups" in table.note and "kept in every resample" not in table.note
    )
    # A known dependence on sex through 'male : single': counterfactual flips happen.
    assert metrics["fairness.sex.counterfactual.flip_rate"].value > 0


def test_a_model_blind_to_sex_flips_nothing(sections) -> None:  # type: ignore[no-untyped-def]
    _, section = sections[False]
    metrics = {m.path: m for m in section.metrics}
    assert metrics["fairness.sex.counterfactual.flip_rate"].value == 0.0
    assert metrics["fairness.sex.counterfactual.mean_score_shift"].value == 0.0


def test_parity_is_established_by_equivalence_tests_and_gates_read_it(sections) -> None:  # type: ignore[no-untyped-def]
    the_plan, section = sections[True]
    metrics = {m.path: m for m in section.metrics}
    table = next(t for t in section.tables if t.title.startswith("Is selection parity established?"))
    assert "[0.8, 1.25]" in table.title and "intersection–union" in table.note
    sex = [row for row in table.rows if row[0] == "sex"]
    assert [row[1:3] for row in sex] == [("female", "male")]
    counts = {g: metrics[f"fairness.sex.groups.{g}.count"].value for g in ("female", "male")}
    rates = {g: metrics[f"fairness.sex.groups.{g}.selection_rate"].value for g in ("female", "male")}
    selected = {g: round(rates[g] * counts[g]) for g in rates}
    tost = tost_proportions_2indep(
        selected["female"],
        counts["female"],
        selected["male"],
        counts["male"],
        0.8,
        1.25,
        method="score",
        compare="ratio",
    )
    female = metrics["fairness.sex.groups.female.parity_established"]
    assert sex[0][7] == pytest.approx(tost.pvalue) and female.value == float(tost.pvalue < 0.05)
    assert f"p = {tost.pvalue:.3g}" in female.note
    assert metrics["fairness.sex.groups.male.parity_established"].value is None  # the reference group itself
    attribute = metrics["fairness.sex.parity_established"]
    assert attribute.value == female.value and "no multiplicity correction" in attribute.note
    # foreign_worker's other group has 14 test rows, below min_group_size: nothing to establish parity for.
    undefined = metrics["fairness.foreign_worker.parity_established"]
    assert undefined.value is None and undefined.note == "no compared group besides the reference"
    gates = [parse_gate(f"fairness.{a}.parity_established >= 1") for a in ("sex", "foreign_worker")]
    check_gate_paths(gates, the_plan.metric_paths["fairness"], where="spec.yaml")
    results = evaluate(gates, metrics)
    assert results[0].passed == (female.value == 1.0)
    assert not results[1].passed and results[1].reason == "no compared group besides the reference"
    significant = metrics["fairness.significant_gaps"]
    assert "absence of evidence" in significant.label and "absence of evidence, not parity" in significant.note
