"""Adverse-action notices for every adverse decision: occlusion of whole fields through the model's scoring API,
batched; the per-notice check (next-best fields and Shapley value sampling), which an additive model passes and a
hash-scored one fails; sensitive fields never reasons; the ``notices`` parameter; notices.csv."""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from fmaudit.core.errors import SpecError
from fmaudit.data import PreparedData, prepare, template_fields
from fmaudit.engine.pipeline import plan
from fmaudit.families.explanations import notices as notices_module
from fmaudit.families.explanations.fields import field_model, perturbation_attributions
from fmaudit.families.explanations.notices import NoticeSettings, adverse_notices, occlusion
from fmaudit.families.explanations.plugin import ExplanationsParams, ExplanationsPlugin
from fmaudit.families.explanations.reasons import ReasonSet
from fmaudit.metrics.association import Association
from fmaudit.models.tabular import TabularClassifier, TabularEncoder
from fmaudit.models.text import TextClassifier, load_pretrained
from fmaudit.report.document import table_csvs
from fmaudit.report.redact import redact_document
from fmaudit.spec import Spec
from tests.support.explanations import HISTORY_WEIGHTS, context_for, synthetic_classifier
from tests.support.specs import WIDE_TEMPLATE

FIELDS = ("a", "b", "c", "d")
REFERENCE = dict.fromkeys(FIELDS, 0)


class RuleModel:
    """A model over four 0/1 fields whose logit is a known function of which fields hold the reference value 0."""

    kind = "tabular"

    def __init__(self, logit: Any) -> None:
        self.logit = logit

    def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray:
        at_reference = [{f: record[f] == 0 for f in FIELDS} for record in records]
        return np.array([1 / (1 + math.exp(-self.logit(r))) for r in at_reference])


def settings(**changes: Any) -> NoticeSettings:
    return NoticeSettings(
        **(
            {
                "sensitive": (),
                "max_reasons": 4,
                "min_contribution": 0.001,
                "shapley_orders": 2,
                "seed": 0,
                "proxies": {},
            }
            | changes
        )
    )


def notices_for(model: RuleModel, rows: int = 3, **changes: Any) -> list[Any]:
    records = [dict.fromkeys(FIELDS, 1) for _ in range(rows)]
    scores = model.predict_records(records, template="")
    return adverse_notices(
        model, records, list(range(rows)), scores, REFERENCE, FIELDS, settings(**changes), template=""
    )


def test_the_reasons_are_the_fields_the_model_depends_on_strongest_first() -> None:
    model = RuleModel(lambda r: -3 + 2.0 * r["b"] + 0.5 * r["d"])
    for notice in notices_for(model):
        assert notice.reasons.reasons == (1, 3)  # b, then d; a and c are not read
        assert notice.reasons.contributions[0] < notice.reasons.contributions[1] < 0
        assert notice.faithful is True  # together they raise the score more than a and c (which do nothing)
        assert notice.next_best_rise == 0.0 and notice.shapley_agrees is True


def test_the_notice_check_fails_when_the_reasons_together_do_not_raise_the_score() -> None:
    """a or b alone lifts the score, both together do not: the reasons a and b fail against c and d."""
    model = RuleModel(lambda r: -2 + 2 * r["a"] + 2 * r["b"] - 4 * (r["a"] and r["b"]) + 0.5 * r["c"] + 0.5 * r["d"])
    for notice in notices_for(model, max_reasons=2):
        assert notice.reasons.reasons == (0, 1)
        assert notice.reasons_rise == pytest.approx(0.0, abs=1e-12)
        assert notice.next_best_rise is not None and notice.next_best_rise > 0.1
        assert notice.faithful is False


class AdditiveModel(RuleModel):
    """P(favourable) itself a sum over the fields: Shapley values equal occlusion contributions exactly."""

    def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray:
        at_reference = [{f: record[f] == 0 for f in FIELDS} for record in records]
        return np.array([self.logit(r) for r in at_reference])


class HashModel:
    """A model whose score is a hash of the whole record: no field means anything, every reason is noise."""

    kind = "tabular"

    def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray:
        serialised = [json.dumps(record, sort_keys=True).encode() for record in records]
        return np.array([zlib.crc32(text) / 2**32 for text in serialised])


def test_an_additive_model_passes_every_notice_and_its_shapley_values_are_its_occlusion() -> None:
    additive = AdditiveModel(lambda r: 0.05 + 0.4 * r["a"] + 0.3 * r["b"] + 0.15 * r["c"] + 0.1 * r["d"])
    for notice in notices_for(additive, rows=5, max_reasons=2):
        assert notice.reasons.reasons == (0, 1) and notice.faithful is True
        assert notice.shapley == pytest.approx(notice.reasons.contributions, abs=1e-12)
        assert notice.reasons_rise == pytest.approx(0.7) and notice.next_best_rise == pytest.approx(0.25)
    # Additive in the logit (not in P): marginals vary with the walk, their signs do not; one interaction that
    # does not reverse a main effect leaves every notice passing.
    for logit in (
        lambda r: -3 + 2.0 * r["a"] + 1.5 * r["b"] + 1.0 * r["c"] + 0.5 * r["d"],
        lambda r: -3 + 2.0 * r["a"] + 1.5 * r["b"] + 1.0 * r["c"] + 0.5 * r["d"] + 1.0 * (r["a"] and r["c"]),
    ):
        notices = notices_for(RuleModel(logit), rows=5, max_reasons=2)
        assert all(n.faithful is True and n.reasons.reasons == (0, 1) for n in notices)
        assert all(n.shapley[0] < n.shapley[1] < 0 for n in notices)


def test_a_model_scoring_a_hash_of_the_record_fails_nearly_every_notice() -> None:
    """Every reason of a hash-scored model is meaningless: the check must say so for ~all its notices."""
    fields = tuple(f"f{i}" for i in range(8))
    rng = np.random.default_rng(0)
    records = [{f: int(v) for f, v in zip(fields, rng.integers(1, 10, len(fields)), strict=True)} for _ in range(160)]
    model = HashModel()
    scores = model.predict_records(records, template="")
    adverse = [k for k in range(len(records)) if scores[k] < 0.5]
    notices = adverse_notices(
        model,  # type: ignore[arg-type]
        [records[k] for k in adverse],
        adverse,
        scores[adverse],
        dict.fromkeys(fields, 0),
        fields,
        settings(),
        template="",
    )
    checked = [n.faithful for n in notices if n.faithful is not None]
    assert len(checked) >= 60  # enough notices for the share to mean something
    assert np.mean([not passed for passed in checked]) >= 0.9
    # Both halves of the check have teeth on their own: the next-best fields beat the reasons for many notices,
    # and Shapley sampling disagrees with occlusion on some reason of most.
    assert np.mean([n.reasons_rise < n.next_best_rise for n in notices if n.reasons.reasons]) > 0.4  # type: ignore[operator]
    assert np.mean([n.shapley_agrees is False for n in notices if n.reasons.reasons]) > 0.8


def test_walks_are_keyed_by_the_row_and_score_each_distinct_variant_once() -> None:
    """A notice's check does not depend on the other rows scored with it, and a set of replaced fields met on
    several walks (their last step always) is scored once."""
    scored: list[int] = []

    class Counting(RuleModel):
        def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray:
            scored.append(len(records))
            return super().predict_records(records, template=template)

    model = Counting(lambda r: -3 + 2.0 * r["a"] + 1.5 * r["b"] + 1.0 * (r["a"] and r["c"]))
    both = notices_for(model, rows=2, max_reasons=2, shapley_orders=3)
    alone = adverse_notices(
        model,
        [dict.fromkeys(FIELDS, 1)],
        [1],
        [both[1].score],
        REFERENCE,
        FIELDS,
        settings(max_reasons=2, shapley_orders=3),
        template="",
    )
    assert alone[0].shapley == both[1].shapley
    assert both[0].shapley != both[1].shapley  # each row its own walks (an interaction makes orders matter)
    scored.clear()
    notices_for(model, rows=1, max_reasons=2, shapley_orders=60)
    # After the decision's own scoring: one batch for the record and its 4 occlusions, one for the checks, which
    # score each of the 15 non-empty sets of 4 fields once (the reasons and the next-best fields among them),
    # not 60 walks x 4 steps.
    assert scored == [1, 1 + 4, 15]


def test_a_sensitive_field_is_never_a_reason_only_flagged() -> None:
    model = RuleModel(lambda r: -3 + 4.0 * r["a"])
    for notice in notices_for(model, sensitive=(0,)):
        assert notice.reasons.reasons == () and notice.reasons.sensitive == (0,)
        assert notice.reasons_rise is None and notice.faithful is None


def test_the_check_takes_at_least_one_shapley_order() -> None:
    assert ExplanationsParams().notice_shapley_orders == 2
    with pytest.raises(ValueError, match="notice_shapley_orders"):
        ExplanationsParams(notice_shapley_orders=0)


def test_a_notice_records_which_of_its_reasons_may_be_proxies() -> None:
    housing = Association("b", "age_group", 0.31, binned=False)
    model = RuleModel(lambda r: -3 + 2.0 * r["b"] + 0.5 * r["d"])
    for notice in notices_for(model, proxies={1: (housing,), 2: (Association("c", "sex", 0.4, binned=False),)}):
        assert notice.reasons.reasons == (1, 3) and notice.proxies == (housing,)  # c is a proxy, not a reason
    assert all(notice.proxies == () for notice in notices_for(model))


def test_a_sensitive_reason_would_stop_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard behind the selection: were a sensitive field ever chosen, no notice is written."""

    def careless(attributions: np.ndarray, **_: Any) -> ReasonSet:
        return ReasonSet(reasons=(0,), contributions=(-0.5,), sensitive=())

    monkeypatch.setattr(notices_module, "principal_reasons", careless)
    with pytest.raises(AssertionError, match="sensitive field was chosen as a reason"):
        notices_for(RuleModel(lambda r: -3 + 4.0 * r["a"]), sensitive=(0,))


def test_fields_already_at_the_reference_value_are_not_scored() -> None:
    scored: list[int] = []

    class Counting(RuleModel):
        def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray:
            scored.append(len(records))
            return super().predict_records(records, template=template)

    records = [{"a": 1, "b": 0, "c": 1, "d": 0}, {"a": 0, "b": 0, "c": 0, "d": 0}]
    _, contributions = occlusion(Counting(lambda r: 3 * r["a"] + r["c"]), records, REFERENCE, FIELDS, template="")
    assert sum(scored) == 2 + 2  # each row once, and the two fields of row 0 that differ
    assert contributions[1].tolist() == [0.0] * 4 and contributions[0, 1] == contributions[0, 3] == 0.0
    assert contributions[0, 0] < contributions[0, 2] < 0


def tabular_mlp(data: PreparedData) -> TabularClassifier:
    torch.manual_seed(0)
    fields = template_fields(WIDE_TEMPLATE)
    encoder = TabularEncoder.fit(data.frame.iloc[data.train_idx][fields])
    mlp = torch.nn.Sequential(torch.nn.Linear(len(encoder.feature_columns), 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    return TabularClassifier(mlp, encoder, hidden=[8])


def test_batched_occlusion_equals_one_row_at_a_time_and_captum_feature_ablation(wide_data: PreparedData) -> None:
    classifier = tabular_mlp(wide_data)
    fields = template_fields(WIDE_TEMPLATE)
    rows = wide_data.test_idx[:12]
    reference = dict(wide_data.frame.iloc[wide_data.test_idx[20]][fields])
    records = wide_data.frame.iloc[rows].to_dict("records")
    own, together = occlusion(classifier, records, reference, fields, template="", batch=64)
    alone = np.concatenate([occlusion(classifier, [r], reference, fields, template="", batch=1)[1] for r in records])
    assert np.abs(together).max() > 1e-3  # the model reads these fields: the comparison has teeth
    assert np.allclose(together, alone, rtol=0, atol=1e-6)
    assert np.allclose(own, classifier.predict_rows(wide_data, rows), rtol=0, atol=1e-6)
    # Captum's FeatureAblation with the fields as groups defines the same attribution.
    explained = field_model(classifier, wide_data, fields=fields, reference=reference, template=WIDE_TEMPLATE)
    ablation = perturbation_attributions(
        explained, explained.build(rows), method="feature_ablation", shapley_samples=1, seeds=[]
    )
    assert np.allclose(together, ablation, rtol=0, atol=1e-6)


def test_batched_text_occlusion_equals_one_row_at_a_time(
    tiny_bert: Path, spec_dict: dict[str, Any], tmp_path: Path
) -> None:
    """Rows padded together in one batch score as they do alone (the attention mask hides the padding)."""
    spec_dict["data"]["max_rows"] = 30
    spec = Spec.model_validate(spec_dict)
    data = prepare(spec.data, base_dir=tmp_path)
    model, tokenizer = load_pretrained(tiny_bert)
    torch.manual_seed(0)
    torch.nn.init.normal_(model.classifier.weight, std=1.0)  # large head: scores depend on the input
    classifier = TextClassifier(model, tokenizer, max_length=64, batch_size=16)
    fields = template_fields(spec.data.template)
    reference = dict(data.frame.iloc[0][fields]) | {"credit_history": "delay in paying off in the past"}
    records = data.frame.iloc[data.test_idx[:4]].to_dict("records")
    own, together = occlusion(classifier, records, reference, fields, template=spec.data.template)
    alone = np.concatenate(
        [occlusion(classifier, [r], reference, fields, template=spec.data.template, batch=1)[1] for r in records]
    )
    assert np.abs(together).max() > 1e-4
    assert np.allclose(together, alone, rtol=0, atol=1e-6)
    assert np.allclose(own, classifier.predict_rows(data, data.test_idx[:4]), rtol=0, atol=1e-6)


def test_every_adverse_decision_gets_a_notice_and_reasons_are_shown_by_group(
    wide_spec: Spec, wide_data: PreparedData, tmp_path: Path
) -> None:
    classifier = synthetic_classifier(wide_data, {"credit_history": HISTORY_WEIGHTS, "duration_in_month": -1.0})
    context = context_for(wide_spec, wide_data, classifier, tmp_path)
    findings = ExplanationsPlugin().run(context, ExplanationsParams(samples=4, chunk_size=4, examples=0))
    adverse = int((context.predictions.decisions == 0).sum())
    table = next(t for t in findings.tables if t.title.startswith("Adverse-action notices"))
    assert len(table.rows) == adverse and table.shown_rows == 8 and table.csv_name == "notices.csv"
    assert {row[0] for row in table.rows} == set(context.predictions.row_ids[context.predictions.decisions == 0])
    by_sex = next(t for t in findings.tables if t.title == "Principal reasons by sex")
    assert sum(row[1] for row in by_sex.rows) == adverse  # type: ignore[misc]
    assert all(row[3].startswith(("Credit history", "Duration in month")) for row in by_sex.rows if row[1])  # type: ignore[union-attr]
    assert findings.summary.startswith(f"Adverse-action notices for {adverse} of {adverse} adverse decisions")


def test_notices_is_all_or_a_count_and_a_bad_value_names_file_and_key(
    spec_dict: dict[str, Any], write_spec: Any
) -> None:
    assert ExplanationsParams().notices == "all"
    assert ExplanationsParams(notices=5).notices == 5
    for bad in ("some", -1, True, 2.5):
        spec_dict["audits"]["explanations"] = {"notices": bad}
        path = write_spec(spec_dict)
        with pytest.raises(SpecError) as caught:
            plan(path)
        [line] = caught.value.problems
        assert line.startswith(f"{path}: audits.explanations.notices: expected 'all' or a whole number >= 0")
        assert line.endswith(f"got {bad!r}")


def test_a_table_asking_for_a_csv_gets_every_row_and_redaction_keeps_only_hashes() -> None:
    table = {
        "title": "Adverse-action notices",
        "columns": ["Row", "P(favourable)", "Reason 1"],
        "rows": [[3, 0.25, "Credit history"], [7, 0.4, None]],
        "note": "",
        "applicant_rows": True,
        "shown_rows": 1,
        "csv_name": "notices.csv",
    }
    document = {
        "data": {"example_text": "x"},
        "sections": [{"tables": [table], "highlights": [], "notes": []}],
        "provenance": {"data_sha256": "d"},
        "training": {},
        "compared_models": [],
        "replicas": None,
    }
    assert table_csvs(document) == {"notices.csv": b"Row,P(favourable),Reason 1\n3,0.25,Credit history\n7,0.4,\n"}
    redacted = table_csvs(redact_document(document, b"salt")).get("notices.csv", b"").decode().splitlines()
    assert redacted[0] == "Row (salted hash)" and len(redacted) == 3 and "Credit" not in "".join(redacted)
