"""Behaviour audit: monotonicity, invariance and template sensitivity on small fake models whose answer
is known, spec errors named by file and key, determinism under the seed and across worker counts."""

from __future__ import annotations

import copy
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from fmaudit.core.errors import SpecError
from fmaudit.core.findings import PluginFindings
from fmaudit.data import PreparedData, serialise
from fmaudit.engine.pipeline import plan
from fmaudit.families.behaviour.params import BehaviourParams
from fmaudit.families.behaviour.plugin import BehaviourPlugin
from fmaudit.families.behaviour.rewrites import field_pieces, map_literals, permuted_templates
from fmaudit.plugins.context import AuditContext, Predictions
from tests.support.specs import GERMAN_CREDIT_SPEC

SAVINGS = ["... < 100 DM", "100 <= ... < 500 DM", "500 <= ... < 1000 DM", "... >= 1000 DM"]
EMPLOYMENT = ["unemployed", "... < 1 year", "1 <= ... < 4 years", "4 <= ... < 7 years", "... >= 7 years"]
CHECKING = ["... < 0 DM", "0 <= ... < 200 DM", "... >= 200 DM / salary assignments for at least 1 year"]
TEMPLATE = (
    "checking: {status_of_existing_checking_account}; duration: {duration_in_month} months; "
    "history: {credit_history}; purpose: {purpose}; amount: {credit_amount} DM; "
    "savings: {savings_account_and_bonds}; employed: {present_employment_since}; age: {age_in_years}"
)
MONOTONE = {
    "savings_account_and_bonds": {"order": SAVINGS},
    "present_employment_since": {"order": EMPLOYMENT, "steps": [1, 2]},
    "status_of_existing_checking_account": {"order": CHECKING},
    "credit_amount": {"direction": "decreasing", "steps": [500, 2000]},
}


class FakeModel:
    """A duck-typed Classifier: ``kind`` 'tabular' scores raw rows, 'text' scores the serialised text."""

    def __init__(self, kind: str, score: Callable[[Any], float], template: str = TEMPLATE) -> None:
        self.kind = kind
        self.score = score
        self.template = template

    def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray:
        if self.kind == "text":
            return np.array([self.score(serialise(dict(r), template).text) for r in records])
        return np.array([self.score(dict(r)) for r in records])

    def predict_rows(self, data: PreparedData, rows: np.ndarray, *, progress: Any = None) -> np.ndarray:
        return self.predict_records(data.frame.iloc[rows].to_dict("records"), template=self.template)


def sigmoid(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


def rank(values: list[str], value: object) -> float:
    return float(values.index(str(value))) if str(value) in values else 1.0


def planted(record: dict[str, Any]) -> bool:
    """30% of applicants, by a hash of facts no test edits: the rows whose savings count against them."""
    key = f"{record['duration_in_month']}-{record['age_in_years']}-{record['purpose']}-{record['housing']}"
    return zlib.crc32(key.encode()) % 100 < 30


def monotone_score(record: dict[str, Any], *, inversion: bool = False) -> float:
    savings = rank(SAVINGS, record["savings_account_and_bonds"]) * (-1 if inversion and planted(record) else 1)
    logit = (
        0.8 * savings
        + 0.5 * rank(EMPLOYMENT, record["present_employment_since"])
        + 0.7 * rank(CHECKING, record["status_of_existing_checking_account"])
        - float(record["credit_amount"]) / 4000
        - 0.5
    )
    return sigmoid(logit)


def checking_reader(text: str) -> float:
    """A text model that reads the checking account's status and nothing else (case-blind)."""
    match = re.search(r"checking: ([^;]*)", text, flags=re.IGNORECASE)
    value = match.group(1).strip().lower() if match else ""
    return {c.lower(): 0.2 + 0.3 * i for i, c in enumerate(CHECKING)}.get(value, 0.55)


def radio_keyword(text: str) -> float:
    """A text model that approves on the keyword 'radio/television' alone."""
    return 0.7 if "radio/television" in text else 0.4


def context_for(
    tmp_path: Path,
    model: FakeModel,
    behaviour: dict[str, Any],
    *,
    kind: str = "text",
    template: str = TEMPLATE,
    gates: list[str] | None = None,
) -> tuple[AuditContext, BehaviourParams]:
    spec = copy.deepcopy(GERMAN_CREDIT_SPEC)
    spec["data"]["template"] = template
    spec["data"]["max_rows"] = 500
    if kind == "tabular":
        spec["model"], spec["training"] = {"kind": "tabular"}, {"epochs": 1}
    spec["audits"] = {"behaviour": behaviour}
    spec["gates"] = []
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    the_plan = plan(path)
    data, test = the_plan.data, the_plan.data.test_idx
    context = AuditContext(
        spec=the_plan.loaded.spec.model_copy(update={"gates": gates or []}),  # gates other plugins would produce
        data=data,
        model=model,
        predictions=Predictions(test, data.labels[test], model.predict_rows(data, test)),
        training=None,  # type: ignore[arg-type]  # the behaviour audit does not read it
        work_dir=tmp_path,
        show_progress=False,
        plan=the_plan.audit_plan,
    )
    params = the_plan.params["behaviour"]
    assert isinstance(params, BehaviourParams)
    return context, params


def run(context: AuditContext, params: BehaviourParams) -> PluginFindings:
    plugin = BehaviourPlugin()
    findings = plugin.run(context, params)
    assert sorted(m.path for m in findings.metrics) == sorted(plugin.metric_paths(params, context.plan))
    return findings


def metric(findings: PluginFindings, path: str) -> Any:
    return next(m for m in findings.metrics if m.path == path)


# --- monotonicity -----------------------------------------------------------------------------------------------


def test_a_monotone_model_has_no_violation(tmp_path: Path) -> None:
    model = FakeModel("tabular", monotone_score)
    context, params = context_for(tmp_path, model, {"monotonicity": MONOTONE, "rows": 150}, kind="tabular")
    findings = run(context, params)
    pooled = metric(findings, "behaviour.monotonicity.violation_rate")
    summary = next(t for t in findings.tables if t.title.startswith("Monotonicity: favourable"))
    tested = {row[0]: row[2] for row in summary.rows}
    # 0 violations is not certainty: the bound is Clopper–Pearson's 0 of n with the tested rows as n (a row's
    # edits are not independent), 1 − 0.025^(1/n) at 95%, never the bootstrap's degenerate [0, 0].
    assert pooled.value == 0.0 and pooled.ci_low == 0.0
    assert pooled.ci_high == pytest.approx(1 - 0.025 ** (1 / tested["all declared fields"])) and pooled.ci_high > 0.01
    for field in MONOTONE:
        one = metric(findings, f"behaviour.monotonicity.{field}.violation_rate")
        assert one.value == 0.0 and one.ci_high == pytest.approx(1 - 0.025 ** (1 / tested[field]))
    moves = {row[0]: row[3] for row in summary.rows}
    assert all(moves[f] > 20 for f in MONOTONE), moves  # every declared field was really tested


def test_a_planted_inversion_is_caught_at_its_rate(tmp_path: Path) -> None:
    model = FakeModel("tabular", lambda r: monotone_score(r, inversion=True))
    context, params = context_for(tmp_path, model, {"monotonicity": MONOTONE, "rows": 150}, kind="tabular")
    findings = run(context, params)
    savings = metric(findings, "behaviour.monotonicity.savings_account_and_bonds.violation_rate")
    assert savings.ci_low < 0.30 < savings.ci_high
    assert 0.15 < savings.value < 0.45 and savings.ci_high - savings.ci_low < 0.3
    for field in ("present_employment_since", "status_of_existing_checking_account", "credit_amount"):
        assert metric(findings, f"behaviour.monotonicity.{field}.violation_rate").value == 0.0
    # The sample's own rate, counted independently of the plugin: violations are exactly the planted rows' moves.
    records = context.data.frame.iloc[context.predictions.row_ids].to_dict("records")
    sample = np.sort(np.random.default_rng([0, 0]).choice(len(records), size=150, replace=False))
    movable = [records[i] for i in sample if records[i]["savings_account_and_bonds"] in SAVINGS[:-1]]
    assert savings.value == pytest.approx(sum(planted(r) for r in movable) / len(movable))
    worst = next(t for t in findings.tables if t.title == "Largest monotonicity violations")
    assert worst.rows and all(row[1] == "savings_account_and_bonds" and row[5] < -0.01 for row in worst.rows)


def test_the_adverse_flip_rate_counts_only_rows_the_model_decided_favourably(tmp_path: Path) -> None:
    """Among the moves of favourably decided rows, the share that turned the decision adverse (a row already
    decided adversely cannot be turned adverse, so counting its moves would dilute the rate)."""
    model = FakeModel("tabular", lambda r: monotone_score(r, inversion=True))
    context, params = context_for(tmp_path, model, {"monotonicity": MONOTONE, "rows": 150}, kind="tabular")
    flip = metric(run(context, params), "behaviour.monotonicity.savings_account_and_bonds.adverse_flip_rate")
    records = context.data.frame.iloc[context.predictions.row_ids].to_dict("records")
    sample = np.sort(np.random.default_rng([0, 0]).choice(len(records), size=150, replace=False))
    moves = []
    for i in sample:
        value = records[i]["savings_account_and_bonds"]
        if value in SAVINGS[:-1]:
            moved = {**records[i], "savings_account_and_bonds": SAVINGS[SAVINGS.index(value) + 1]}
            moves.append((monotone_score(records[i], inversion=True), monotone_score(moved, inversion=True)))
    favourable = [(before, after) for before, after in moves if before >= 0.5]
    turned = sum(after < 0.5 for _, after in favourable)
    assert turned > 3 and len(favourable) < len(moves)  # the two denominators differ on this sample
    assert flip.value == pytest.approx(turned / len(favourable))
    assert flip.ci_low < flip.value < flip.ci_high


def test_monotonicity_is_reported_per_group_and_an_unseen_value_is_not_tested(tmp_path: Path) -> None:
    model = FakeModel("tabular", lambda r: monotone_score(r, inversion=True))
    context, params = context_for(tmp_path, model, {"monotonicity": MONOTONE, "rows": 150}, kind="tabular")
    findings = run(context, params)
    records = context.data.frame.iloc[context.predictions.row_ids].to_dict("records")
    sexes = context.data.sensitive["sex"].iloc[context.predictions.row_ids].to_numpy()
    sample = np.sort(np.random.default_rng([0, 0]).choice(len(records), size=150, replace=False))
    # Each group's rate, counted from its own rows: a savings move violates exactly on the planted rows.
    expected = {}
    for group in ("male", "female"):
        movable = [
            records[i] for i in sample if sexes[i] == group and records[i]["savings_account_and_bonds"] in SAVINGS[:-1]
        ]
        expected[group] = sum(planted(r) for r in movable) / len(movable)
        rate = metric(findings, f"behaviour.monotonicity.savings_account_and_bonds.groups.sex.{group}.violation_rate")
        assert rate.value == pytest.approx(expected[group]), group
        assert rate.ci_low <= rate.value <= rate.ci_high and rate.ci_low < rate.ci_high
    pooled = metric(findings, "behaviour.monotonicity.savings_account_and_bonds.violation_rate").value
    assert len({round(expected["male"], 9), round(expected["female"], 9), round(pooled, 9)}) == 3  # so it can fail
    # 'unknown/ no savings account' is outside the declared order: those rows are not tested for savings.
    summary = next(t for t in findings.tables if t.title.startswith("Monotonicity: favourable"))
    savings_rows = next(row for row in summary.rows if row[0] == "savings_account_and_bonds")
    assert savings_rows[2] == sum(records[i]["savings_account_and_bonds"] in SAVINGS[:-1] for i in sample)


# --- invariance -------------------------------------------------------------------------------------------------


def test_a_model_reading_one_field_is_invariant_to_rewriting_every_other(tmp_path: Path) -> None:
    model = FakeModel("text", checking_reader)
    behaviour = {
        "invariance": {
            "values": {
                "credit_history": {"existing credits paid back duly till now": ["existing credits repaid on time"]},
                "purpose": {"radio/television": ["radio/TV", "radio or television"]},
            },
            "field_order": 3,
        },
        "templates": {
            "reordered": "age: {age_in_years}; checking: {status_of_existing_checking_account}; "
            "history: {credit_history}; purpose: {purpose}",
            "terse": "checking: {status_of_existing_checking_account}",
        },
    }
    context, params = context_for(tmp_path, model, behaviour)
    findings = run(context, params)
    for test in ("equivalent_values", "case", "number_format", "field_order"):
        assert metric(findings, f"behaviour.invariance.{test}.flip_rate").value == 0.0, test
        assert metric(findings, f"behaviour.invariance.{test}.mean_abs_score_change").value == 0.0, test
    assert metric(findings, "behaviour.template_sensitivity.flip_rate").value == 0.0
    assert metric(findings, "behaviour.template_sensitivity.roc_auc_spread").value == 0.0
    table = next(t for t in findings.tables if t.title.startswith("Invariance: rewritings"))
    copies = {row[0]: row[3] for row in table.rows}
    assert copies["case"] == 2 * params.rows and copies["field_order"] == 3 * params.rows
    assert copies["number_format"] > params.rows  # every row has numbers; amounts >= 1000 get both variants
    assert any("terse leaves out" in note for note in findings.notes)  # dropping fields is allowed, and reported


def test_a_keyword_dependence_is_caught_by_the_equivalent_value_test(tmp_path: Path) -> None:
    model = FakeModel("text", radio_keyword)
    behaviour = {"invariance": {"values": {"purpose": {"radio/television": ["radio/TV"]}}, "case": False}}
    context, params = context_for(tmp_path, model, behaviour)
    findings = run(context, params)
    flips = metric(findings, "behaviour.invariance.equivalent_values.flip_rate")
    assert flips.value == 1.0
    assert metric(findings, "behaviour.invariance.equivalent_values.fields.purpose.flip_rate").value == 1.0
    assert metric(findings, "behaviour.invariance.equivalent_values.mean_abs_score_change").value == pytest.approx(0.3)
    assert metric(findings, "behaviour.invariance.number_format.flip_rate").value == 0.0
    assert not any(m.path.startswith("behaviour.invariance.case") for m in findings.metrics)
    examples = next(t for t in findings.tables if t.title.startswith("Largest score changes"))
    assert examples.rows[0][2] == "radio/television → radio/TV"


def test_field_order_permutations_keep_every_field_with_its_words() -> None:
    pieces, separator = field_pieces(TEMPLATE) or ([], "")
    assert separator == "; " and len(pieces) == 8
    assert pieces[1].prefix == "duration: " and pieces[1].suffix == " months"
    for permuted in permuted_templates(TEMPLATE, count=4, rng=np.random.default_rng(0)):
        assert permuted != TEMPLATE
        assert sorted(permuted.split("; ")) == sorted(TEMPLATE.split("; "))
    assert field_pieces("{a} {b}") is None  # no separator between the fields: no guessing
    assert map_literals("x {a!r:>5} {{y}}", str.upper) == "X {a!r:>5} {{Y}}"


# --- template sensitivity ---------------------------------------------------------------------------------------


def test_template_figures_match_fairlearn_and_a_gate_verdict_change_is_flagged(tmp_path: Path) -> None:
    from fairlearn.metrics import demographic_parity_ratio
    from sklearn.metrics import roc_auc_score

    def labelled_sex(text: str) -> float:  # approves on a keyword; denies men when the template spells out 'sex'
        return radio_keyword(text) - 0.25 * ("status and sex: male" in text)

    template = TEMPLATE + "; sex: {personal_status_and_sex}"
    model = FakeModel("text", labelled_sex, template=template)
    behaviour = {
        "templates": {"labelled": TEMPLATE + "; status and sex: {personal_status_and_sex}"},
        "invariance": {"case": False, "number_format": False, "field_order": 0},
    }
    gate = "fairness.sex.demographic_parity_ratio.ci_low >= 0.3"
    context, params = context_for(tmp_path, model, behaviour, template=template, gates=[gate])
    findings = run(context, params)
    preds = context.predictions
    sex = context.data.sensitive["sex"].iloc[preds.row_ids].to_numpy()
    audited = metric(findings, "behaviour.template_sensitivity.templates.audited.sex.demographic_parity_ratio")
    expected = demographic_parity_ratio(preds.labels, preds.decisions, sensitive_features=sex)
    assert audited.value == pytest.approx(expected) and 0.5 < audited.value < 1.0
    records = context.data.frame.iloc[preds.row_ids].to_dict("records")
    after = model.predict_records(records, template=params.templates["labelled"])
    labelled = metric(findings, "behaviour.template_sensitivity.templates.labelled.sex.demographic_parity_ratio")
    assert (
        labelled.value
        == 0.0
        == demographic_parity_ratio(preds.labels, (after >= 0.5).astype(int), sensitive_features=sex)
    )
    assert metric(findings, "behaviour.template_sensitivity.templates.labelled.roc_auc").value == pytest.approx(
        roc_auc_score(preds.labels, after)
    )
    assert audited.ci_low >= 0.3 > labelled.ci_low
    assert metric(findings, "behaviour.template_sensitivity.gate_verdicts_changed").value == 1.0
    assert "1 of 1 parity gate verdicts change" in findings.summary and "ROC AUC audited" in findings.summary
    flips = metric(findings, "behaviour.template_sensitivity.flip_rate")
    assert flips.value == pytest.approx(float(np.mean((after >= 0.5) != (preds.scores >= 0.5)))) and flips.value > 0


def test_the_audited_templates_parity_is_the_fairness_sections_own_number(tmp_path: Path) -> None:
    """One gate, one number: the audited row is the figure the fairness gate reads, not a second estimate of it;
    without the fairness section the same method gives nearly the same interval (another random stream)."""
    from dataclasses import replace

    from fmaudit.core.findings import Findings
    from fmaudit.families.fairness.params import FairnessParams
    from fmaudit.families.fairness.plugin import FairnessPlugin

    model = FakeModel("text", radio_keyword)
    behaviour = {"templates": {"plain": TEMPLATE.replace("; ", ", ")}, "invariance": {"field_order": 0}}
    context, params = context_for(tmp_path, model, behaviour)
    fairness = FairnessPlugin().run(
        context, FairnessParams.model_validate({"counterfactual": False, "mitigation": False})
    )
    path = "behaviour.template_sensitivity.templates.audited.sex.demographic_parity_ratio"
    gated = next(m for m in fairness.metrics if m.path == "fairness.sex.demographic_parity_ratio")
    audited = metric(run(replace(context, findings=Findings((fairness,))), params), path)
    assert (audited.value, audited.ci_low, audited.ci_high) == (gated.value, gated.ci_low, gated.ci_high)
    alone = metric(run(context, params), path)
    assert alone.value == gated.value and alone.ci_low != gated.ci_low
    assert alone.ci_low == pytest.approx(gated.ci_low, abs=0.03)


# --- determinism ------------------------------------------------------------------------------------------------


def test_results_are_deterministic_under_the_seed(tmp_path: Path) -> None:
    model = FakeModel("text", checking_reader)
    behaviour = {
        "monotonicity": {"status_of_existing_checking_account": {"order": CHECKING[::-1]}},
        "rows": 60,
        "n_boot": 200,
    }
    context, params = context_for(tmp_path, model, behaviour)
    first, second = run(context, params), run(context, params)
    assert asdict(first) == asdict(second)
    other = run(context, params.model_copy(update={"seed": 1}))
    assert asdict(other) != asdict(first)


def test_one_or_two_workers_give_identical_findings_on_a_real_transformer(tmp_path: Path, tiny_bert: Path) -> None:
    from fmaudit.models.text import TextClassifier, load_pretrained

    model, tokenizer = load_pretrained(tiny_bert)
    classifier = TextClassifier(model, tokenizer, max_length=96)
    behaviour = {
        "monotonicity": {"savings_account_and_bonds": {"order": SAVINGS}},
        "rows": 40,
        "n_boot": 100,
        "invariance": {"field_order": 1},
        "templates": {"short": "checking: {status_of_existing_checking_account}"},
    }
    context, params = context_for(tmp_path, FakeModel("text", checking_reader), behaviour)
    test = context.data.test_idx
    context = replace(
        context,
        model=classifier,
        predictions=Predictions(test, context.data.labels[test], classifier.predict_rows(context.data, test)),
    )
    one = run(context, params)
    two = run(context, params.model_copy(update={"workers": 2}))
    assert asdict(one) == asdict(two)


# --- spec errors ------------------------------------------------------------------------------------------------


def test_spec_errors_name_the_file_and_the_key(tmp_path: Path) -> None:
    spec = copy.deepcopy(GERMAN_CREDIT_SPEC)
    spec["audits"] = {
        "behaviour": {
            "monotonicity": {
                "credit_history": {"order": ["no credits taken/ all credits paid back duly", "paid on time"]},
                "savings_account_and_bonds": {"order": SAVINGS},
                "duration_in_month": {"order": ["short", "long"]},
            },
            "invariance": {"values": {"purpose": {"radio/television": ["radio/TV"]}}},
            "templates": {"odd": "checking: {status_of_existing_checking_account}; job: {job}"},
        }
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError) as caught:
        plan(path)
    lines = caught.value.problems
    prefix = f"{path}: audits.behaviour."
    assert f"{prefix}monotonicity.credit_history.order: 'paid on time' is not a value of credit_history" in "\n".join(
        lines
    )
    assert any(
        line.startswith(f"{prefix}monotonicity.savings_account_and_bonds: not a template field") for line in lines
    )
    assert any(
        line.startswith(f"{prefix}monotonicity.duration_in_month.order: duration_in_month is numeric") for line in lines
    )
    assert any(line.startswith(f"{prefix}invariance.values.purpose: not a template field") for line in lines)
    assert any(
        line.startswith(f"{prefix}templates.odd: uses fields the audited template does not: job") for line in lines
    )
    assert len(lines) == 5


def test_text_only_tests_on_a_tabular_model_are_refused_before_training(tmp_path: Path) -> None:
    spec = copy.deepcopy(GERMAN_CREDIT_SPEC)
    spec["model"], spec["training"] = {"kind": "tabular"}, {"epochs": 1}
    spec["audits"] = {"behaviour": {"invariance": {"case": True}, "templates": {"t": "{age_in_years}"}}}
    path = tmp_path / "tab.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError) as caught:
        plan(path)
    assert caught.value.problems == [
        f"{path}: audits.behaviour.invariance.case: rewrites the serialised text; got model.kind: tabular",
        f"{path}: audits.behaviour.templates.t: a tabular model reads no template",
    ]


def test_params_refuse_ill_formed_declarations() -> None:
    with pytest.raises(ValueError, match="either 'order'"):
        BehaviourParams.model_validate({"monotonicity": {"x": {"order": ["a", "b"], "direction": "increasing"}}})
    with pytest.raises(ValueError, match="'direction' needs 'steps'"):
        BehaviourParams.model_validate({"monotonicity": {"x": {"direction": "increasing"}}})
    with pytest.raises(ValueError, match="at least two distinct values"):
        BehaviourParams.model_validate({"monotonicity": {"x": {"order": ["a", "a"]}}})
    with pytest.raises(ValueError, match="usable in a metric path"):
        BehaviourParams.model_validate({"templates": {"audited": "{x}"}})


def test_a_parity_interval_can_contain_parity() -> None:
    """With selection independent of the group, the ratio's interval reaches 1 (min / max per resample never would)."""
    import pandas as pd

    from fmaudit.families.behaviour.templates import headline_figures

    rng = np.random.default_rng(3)
    groups = pd.DataFrame({"g": rng.choice(["a", "b", "c"], size=600)})
    scores = rng.uniform(size=600)
    figures = headline_figures(
        "audited",
        labels=rng.integers(0, 2, size=600),
        scores=scores,
        groups=groups,
        attributes={"g": ["a", "b", "c"]},
        threshold=0.5,
        min_size=20,
        n_boot=500,
        confidence=0.95,
        rng=np.random.default_rng(0),
    )
    parity = figures.parity["g"]
    assert parity.value is not None and parity.value < 1.0
    assert parity.ci_low is not None and parity.ci_low < 1.0 == parity.ci_high
