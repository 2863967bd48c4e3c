"""One real run, end to end, offline: a tiny BERT fine-tuned with DP-SGD on German Credit, its
non-private twin and the membership-inference reference models, all five plugins, gates, report.
Its figures are recomputed with the libraries that define them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
import yaml
from fairlearn.metrics import demographic_parity_difference, demographic_parity_ratio, equalized_odds_difference
from sklearn.metrics import accuracy_score, roc_auc_score

from fmaudit.core.errors import ExitCode
from fmaudit.data import prepare
from fmaudit.models.text import load_pretrained
from fmaudit.report.pdf import chromium_binary
from fmaudit.spec import load_spec
from tests.support.browser import assert_reads_well
from tests.support.network import guard_network
from tests.support.paper import overflowing_pages
from tests.support.runs import Run, load_run, run_cli
from tests.support.specs import tiny_spec


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def first(tiny_bert: Path, workspace: Path) -> tuple[Run, list[str]]:
    spec_path = workspace / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(tiny_spec(tiny_bert), sort_keys=False))
    with pytest.MonkeyPatch.context() as patch:
        attempts = guard_network(patch)
        code, stdout = run_cli(
            [
                "run",
                str(spec_path),
                "--out",
                str(workspace / "reports"),
                "--cache-dir",
                str(workspace / "cache"),
                "--quiet",
            ]
        )
    return load_run(code, stdout), attempts


class Reloaded(NamedTuple):
    """The run's plan and its audited model loaded back from the run's cache, and how far the reloaded model's
    scores of the test split lie from the run's own (float32 noise of another load and other batches)."""

    plan: Any
    model: Any
    noise: float


@pytest.fixture(scope="module")
def audited(first, workspace: Path) -> Reloaded:  # type: ignore[no-untyped-def]
    """To recompute figures the report gives only as summaries: attack scores, scores under another template."""
    from fmaudit.engine.pipeline import plan, train

    run, _ = first
    the_plan = plan(workspace / "tiny.yaml")
    classifier, record = train(
        the_plan, the_plan.loaded.spec.training, cache_dir=workspace / "cache", show_progress=False
    )
    assert record.from_cache and record.weights_sha256 == run.findings["provenance"]["weights_sha256"]
    rows = the_plan.data.test_idx
    noise = float(np.abs(classifier.predict_rows(the_plan.data, rows) - run.predictions["score"].to_numpy()).max())
    assert (run.predictions["row_id"] == rows).all() and noise < 1e-5
    return Reloaded(the_plan, classifier, noise)


def auc_tolerance(positives: np.ndarray, negatives: np.ndarray, *, noise: float) -> float:
    """How far scores recomputed within ``noise`` of the originals can move a ROC AUC: every positive/negative
    pair closer than twice the noise may be ordered either way, and each moves it by 1 / (positives x negatives)."""
    near = int((np.abs(np.subtract.outer(positives, negatives)) <= 2 * noise).sum())
    return near / (len(positives) * len(negatives)) + 1e-12


def test_run_passes_its_gates_and_opens_no_socket(first) -> None:  # type: ignore[no-untyped-def]
    run, attempts = first
    assert attempts == []
    assert run.code == ExitCode.OK, run.stdout
    assert "5 passed, 0 failed" in run.stdout
    assert run.findings["verdict"] == "pass"


def test_each_gate_observes_the_figure_it_names(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    for gate in run.findings["gates"]:
        node = run.findings["metrics"]
        for key in gate["gate"].split()[0].split("."):
            node = node[key]
        assert gate["passed"] and gate["observed"] == node["value"], gate


def test_the_epsilon_sweep_trains_a_model_per_target_and_measures_it(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    point = run.findings["metrics"]["privacy"]["sweep"]["eps_2"]
    main = run.findings["metrics"]["privacy"]["epsilon"]["value"]
    assert point["epsilon"]["value"] <= 2.01 and main > 7.9  # its own privacy budget, not the audited model's
    # The sweep table's audited-model and twin rows repeat the figures of the two models' own reports.
    twin = json.loads((run.report_dir / "twin" / "findings.json").read_text())
    section = next(s for s in run.findings["sections"] if s["plugin"] == "privacy")
    table = next(t for t in section["tables"] if t["title"] == "Epsilon sweep")
    columns = table["columns"]
    rows = {row[0]: dict(zip(columns, row, strict=True)) for row in table["rows"]}
    assert len(rows) == 3  # the audited model, its twin, one sweep point
    for label, report in (("audited model", run.findings), ("no-DP twin", twin)):
        for figure, column in (("accuracy", columns[2]), ("roc_auc", columns[3])):
            assert rows[label][column] == pytest.approx(report["metrics"]["performance"][figure]["value"])
    assert rows["target ε = 2"][columns[2]] == point["accuracy"]["value"]
    listed = [m for m in run.findings["compared_models"] if m["role"] == "sweep"]
    assert len(listed) == 1 and listed[0]["training"]["privacy"]["target_epsilon"] == 2


def test_report_files_are_complete_and_nothing_partial_is_left(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    twin_files = ["findings.json", "notices.csv", "predictions.csv", "report.html", "summary.md"]
    files = sorted([*twin_files, "junit.xml", "manifest.json", "twin"])
    assert sorted(p.name for p in run.report_dir.iterdir()) == files
    assert sorted(p.name for p in (run.report_dir / "twin").iterdir()) == twin_files
    assert [p.name for p in run.report_dir.parent.iterdir() if p.name.startswith(".")] == []


def test_the_twin_differs_only_by_dp_and_has_its_own_report(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    twin = json.loads((run.report_dir / "twin" / "findings.json").read_text())
    assert twin["role"] == "twin" and twin["training"]["privacy"] is None and twin["verdict"] is None
    settings = dict(run.findings["training"]["settings"], privacy=None)
    assert twin["training"]["settings"] == settings
    assert twin["metrics"]["privacy"]["dp"]["value"] == 0.0
    assert "mia" in twin["metrics"]["privacy"] and "cost" not in twin["metrics"]["privacy"]
    (listed,) = [m for m in run.findings["compared_models"] if m["role"] == "twin"]
    assert listed["role"] == "twin" and listed["report"] == "twin/report.html"
    assert listed["training"]["weights_sha256"] == twin["provenance"]["weights_sha256"]
    assert 'href="twin/report.html"' in run.html


def test_privacy_cost_equals_the_two_prediction_files(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    twin = pd.read_csv(run.report_dir / "twin" / "predictions.csv")
    twin_findings = json.loads((run.report_dir / "twin" / "findings.json").read_text())
    dp = run.predictions
    assert (twin["row_id"] == dp["row_id"]).all()
    cost = run.findings["metrics"]["privacy"]["cost"]
    assert cost["accuracy_drop"]["value"] == pytest.approx(
        accuracy_score(twin["label"], twin["decision"]) - accuracy_score(dp["label"], dp["decision"])
    )
    assert cost["accuracy_drop"]["ci_low"] <= cost["accuracy_drop"]["value"] <= cost["accuracy_drop"]["ci_high"]
    males = dp["sex"] == "male"
    assert cost["sex"]["groups"]["male"]["accuracy_drop"]["value"] == pytest.approx(
        accuracy_score(twin["label"][males], twin["decision"][males])
        - accuracy_score(dp["label"][males], dp["decision"][males])
    )
    ratio = "demographic_parity_ratio"
    assert cost["sex"][f"{ratio}_change"]["value"] == pytest.approx(
        twin_findings["metrics"]["fairness"]["sex"][ratio]["value"]
        - run.findings["metrics"]["fairness"]["sex"][ratio]["value"]
    )


def test_membership_inference_runs_both_attacks_on_balanced_sets(first, audited, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    """Both attacks' AUCs recomputed with scikit-learn from the per-row losses of the audited model and of the
    reference model (trained on the training rows not drawn as members), on 90 members and 90 non-members."""
    from fmaudit.engine.pipeline import train
    from fmaudit.plugins.context import draw_sets

    run, _ = first
    the_plan, classifier = audited.plan, audited.model
    data, params = the_plan.data, the_plan.params["privacy"]
    mia = run.findings["metrics"]["privacy"]["mia"]
    sets = draw_sets(data.train_idx, data.test_idx, size=params.members, seed=params.seed)
    # Every test row is a non-member; as many training rows are members; the rest train the reference model.
    assert len(sets.members) == len(sets.non_members) == mia["members"]["value"] == 90
    assert sorted(sets.non_members) == sorted(data.test_idx) and set(sets.members) <= set(data.train_idx)
    assert sorted([*sets.members, *sets.reference_rows]) == sorted(data.train_idx)
    reference, record = train(
        the_plan,
        the_plan.loaded.spec.training,
        cache_dir=workspace / "cache",
        rows=sets.reference_rows,
        show_progress=False,
    )
    assert record.from_cache  # the run's own reference model

    def losses(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:  # cross-entropy of each row's true label
        return -np.log(np.clip(np.where(data.labels[rows] == 1, scores, 1 - scores), 1e-12, 1.0))

    tested = run.predictions.set_index("row_id")["score"]  # the audited model's scores of every non-member
    member_scores = classifier.predict_rows(data, sets.members)
    target = {
        "members": losses(member_scores, sets.members),
        "non_members": losses(tested.loc[sets.non_members].to_numpy(), sets.non_members),
    }
    baseline = {
        name: losses(reference.predict_rows(data, rows), rows)
        for name, rows in (("members", sets.members), ("non_members", sets.non_members))
    }
    # Per attack, the scores of members and of non-members (higher means "member"), and the noise they carry as
    # recomputed here: a loss moves by at most noise / min(p, 1 - p); the calibrated score has the reference
    # model's noise on top (assumed alike: the same architecture loaded the same way).
    scores = np.r_[member_scores, tested.to_numpy()]
    loss_noise = audited.noise / float(np.minimum(scores, 1 - scores).min())
    attacks = {
        "loss": (-target["members"], -target["non_members"], loss_noise),
        "calibrated": (
            baseline["members"] - target["members"],
            baseline["non_members"] - target["non_members"],
            3 * loss_noise,
        ),
    }
    section = next(s for s in run.findings["sections"] if s["plugin"] == "privacy")
    roc = next(c for c in section["charts"] if c["title"] == "Membership-inference ROC (log-scale false-positive rate)")
    curves = {name: (np.array(xs), np.array(ys)) for name, xs, ys in roc["series"]}
    for attack, (members, non_members, noise) in attacks.items():
        figures = mia[attack]
        truth, attack_scores = np.r_[np.ones(90), np.zeros(90)], np.r_[members, non_members]
        tolerance = auc_tolerance(members, non_members, noise=noise)
        assert figures["auc"]["value"] == pytest.approx(roc_auc_score(truth, attack_scores), abs=tolerance), attack
        assert figures["auc"]["ci_low"] < figures["auc"]["value"] < figures["auc"]["ci_high"]
        # The curve drawn is the one measured: its area is the AUC, and it moves in steps of one row of 90.
        fpr, tpr = curves[f"this model: {attack}"]
        assert np.trapezoid(tpr, fpr) == pytest.approx(figures["auc"]["value"], abs=1e-12), attack
        assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
        assert np.allclose(fpr * 90, np.round(fpr * 90)) and np.allclose(tpr * 90, np.round(tpr * 90))
        # 90 non-members cannot measure an FPR of 1% (that takes 100) or 0.1% (1,000): neither TPR is reported.
        for figure, needed in (("tpr_at_fpr_1pct", 100), ("tpr_at_fpr_0_1pct", 1000)):
            assert figures[figure]["value"] is None
            assert figures[figure]["note"] == f"needs at least {needed} non-members"
        assert 0 <= figures["epsilon_lower_bound"]["value"] <= run.findings["training"]["privacy"]["epsilon"]
    assert mia["auc"]["value"] == max(mia["loss"]["auc"]["value"], mia["calibrated"]["auc"]["value"])
    assert "Membership-inference ROC (log-scale false-positive rate)" in run.html


def test_predictions_csv_has_one_row_per_test_example(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    frame = run.predictions
    assert len(frame) == 90 and frame["row_id"].is_unique
    assert list(frame.columns) == [
        "row_id",
        "label",
        "score",
        "decision",
        "sex",
        "age_group",
        "foreign_worker",
        "sex_x_age_group",
    ]
    assert ((frame["score"] >= 0.5).astype(int) == frame["decision"]).all()


def test_performance_equals_sklearn_on_the_predictions(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    frame, perf = run.predictions, run.findings["metrics"]["performance"]
    assert perf["accuracy"]["value"] == pytest.approx(accuracy_score(frame["label"], frame["decision"]))
    assert perf["roc_auc"]["value"] == pytest.approx(roc_auc_score(frame["label"], frame["score"]))
    assert perf["roc_auc"]["ci_low"] < perf["roc_auc"]["value"] < perf["roc_auc"]["ci_high"]
    assert perf["baselines"]["majority"]["accuracy"]["value"] == pytest.approx(
        max(frame["label"].mean(), 1 - frame["label"].mean())
    )


def test_fairness_equals_fairlearn_on_the_predictions(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    frame, fair = run.predictions, run.findings["metrics"]["fairness"]
    for attribute in ("sex", "age_group"):
        groups = frame[attribute]
        args = (frame["label"], frame["decision"])
        assert fair[attribute]["demographic_parity_difference"]["value"] == pytest.approx(
            demographic_parity_difference(*args, sensitive_features=groups)
        )
        assert fair[attribute]["demographic_parity_ratio"]["value"] == pytest.approx(
            demographic_parity_ratio(*args, sensitive_features=groups)
        )
        assert fair[attribute]["equalized_odds_difference"]["value"] == pytest.approx(
            equalized_odds_difference(*args, sensitive_features=groups)
        )
    female = frame[frame["sex"] == "female <F>"]
    assert fair["sex"]["groups"]["female_F"]["selection_rate"]["value"] == pytest.approx(female["decision"].mean())


def test_reported_epsilon_equals_a_fresh_opacus_accountant(first) -> None:  # type: ignore[no-untyped-def]
    from opacus.accountants import create_accountant

    run, _ = first
    privacy = run.findings["training"]["privacy"]
    accountant = create_accountant(mechanism=privacy["accountant"])
    accountant.history = [
        *((release["noise_multiplier"], 1.0, 1) for release in privacy["releases"]),  # noisy statistics, if any
        (privacy["noise_multiplier"], privacy["sample_rate"], privacy["steps"]),
    ]
    assert run.findings["metrics"]["privacy"]["epsilon"]["value"] == pytest.approx(
        accountant.get_epsilon(delta=privacy["delta"]), rel=1e-6
    )
    assert privacy["epsilon"] <= 8.01
    assert privacy["sample_rate"] == pytest.approx(1 / 7)  # Opacus: 1 / batches per epoch = 1 / ceil(210 / 32)
    assert privacy["dataset_size"] == 210
    assert run.findings["metrics"]["privacy"]["dp"]["value"] == 1.0


def test_robustness_reports_textattack_outcomes_for_every_sample(first, audited) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    the_plan = audited.plan
    tree = run.findings["metrics"]["robustness"]["DeepWordBugGao2018"]
    figures = {k: v["value"] for k, v in tree.items() if "value" in v}  # the rest are per-group subtrees
    outcomes = ("successful", "failed", "budget_exhausted", "skipped", "not_attacked")
    assert sum(figures[k] for k in outcomes) == 3 and figures["not_attacked"] == 0
    # TextAttack skips the sampled rows the model gets wrong: those of the seeded sample misclassified in
    # predictions.csv.
    rng = np.random.default_rng(the_plan.params["robustness"].seed)
    sampled = run.predictions.iloc[np.sort(rng.choice(len(run.predictions), size=3, replace=False))]
    assert figures["skipped"] == int((sampled["decision"] != sampled["label"]).sum())
    assert figures["original_accuracy"] == pytest.approx(1 - figures["skipped"] / 3, abs=1e-4)
    # Defined on the attacked rows alone: undefined, not 0, when none were (the unit tests make that case).
    attacked = figures["successful"] + figures["failed"] + figures["budget_exhausted"]
    rate = pytest.approx(figures["successful"] / attacked, abs=1e-4) if attacked else None
    assert figures["attack_success_rate"] == rate
    section = next(s for s in run.findings["sections"] if s["plugin"] == "robustness")
    assert any(t["title"] == "Attack outcomes per sensitive group" for t in section["tables"])


def test_explanations_report_fields_reason_codes_and_faithfulness(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    section = next(s for s in run.findings["sections"] if s["plugin"] == "explanations")
    for chart in section["charts"][:2]:  # global importance, one chart per method
        shares = {bar["label"]: bar["value"] for bar in chart["bars"]}
        assert set(shares) == {
            "status_of_existing_checking_account",
            "duration_in_month",
            "credit_history",
            "personal_status_and_sex",
            "age_in_years",
        }
        assert sum(shares.values()) == pytest.approx(1.0)
    explanations = run.findings["metrics"]["explanations"]
    delta = explanations["convergence_delta"]
    # Reported for the 4 sampled rows. This tiny model's scores hardly vary (about 1e-5 over the test split), so
    # its deltas are float32 rounding; the figures are recomputed with Captum on a model with signal in
    # tests/unit/families/explanations.
    assert delta["max_abs"]["value"] is not None and delta["mean_abs"]["value"] is not None
    adverse = int((run.predictions["decision"] == 0).sum())
    assert explanations["notices"]["produced"]["value"] == min(4, adverse)
    assert explanations["notices"]["adverse_decisions"]["value"] == adverse
    assert {"deletion_gain", "insertion_gain", "infidelity"} <= set(explanations["feature_ablation"])
    assert explanations["integrated_gradients"]["sensitivity_max"]["value"] is None  # text: token ids
    assert "<polyline" in run.html  # faithfulness curves


def test_behaviour_runs_through_the_pipeline_and_renders(first, audited) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    the_plan, classifier = audited.plan, audited.model
    section = next(s for s in run.findings["sections"] if s["plugin"] == "behaviour")
    rates = run.findings["metrics"]["behaviour"]
    # The whole test split scored again under the alternative template: its decisions against the audited ones
    # (rows within the reloaded model's noise of the threshold could go either way).
    data = the_plan.data
    records = data.frame.iloc[data.test_idx].to_dict("records")
    after = classifier.predict_records(records, template=the_plan.params["behaviour"].templates["short"])
    before, labels = run.predictions["score"].to_numpy(), run.predictions["label"].to_numpy()
    undecided = int((np.abs(after - 0.5) <= audited.noise).sum())
    flips = rates["template_sensitivity"]["flip_rate"]["value"]
    assert flips == pytest.approx(np.mean((after >= 0.5) != (before >= 0.5)), abs=undecided / len(after) + 1e-12)
    auc = rates["template_sensitivity"]["templates"]["short"]["roc_auc"]["value"]
    tolerance = auc_tolerance(after[labels == 1], after[labels == 0], noise=audited.noise)
    assert auc == pytest.approx(roc_auc_score(labels, after), abs=tolerance)
    assert {"case", "number_format", "field_order"} <= set(rates["invariance"])
    assert any("short leaves out" in note for note in section["notes"])
    assert 'id="behaviour"' in run.html and "Template sensitivity: the test split under each" in run.html


def test_report_is_self_contained_and_escapes_data(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    html = run.html
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "&lt;script&gt;alert(" in html
    assert "female &lt;F&gt;" in html and "female <F>" not in html
    for section in (
        "Verdict",
        "Model and training",
        "Data",
        "Performance",
        "Fairness",
        "Explanations and reason codes",
        "Adversarial robustness",
        "Privacy",
        "Provenance",
    ):
        assert f">{section}</h2>" in html
    provenance = run.findings["provenance"]
    for key in ("spec_sha256", "data_sha256", "base_model_sha256", "weights_sha256"):
        assert re.fullmatch(r"[0-9a-f]{64}", provenance[key]), key
        assert provenance[key] in html


def test_second_run_uses_the_cache_and_a_failing_gate_exits_1(first, tiny_bert: Path, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    spec = tiny_spec(tiny_bert, gates=["performance.accuracy >= 0.999", "privacy.epsilon <= 8.01"])
    spec["training"]["privacy"]["compare"] = False  # which models a run audits is not part of the cache key
    spec["audits"] = {"performance": {}, "privacy": {"membership": False}}
    path = workspace / "failing.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    code, stdout = run_cli(
        ["run", str(path), "--out", str(workspace / "reports"), "--cache-dir", str(workspace / "cache"), "--quiet"]
    )
    second = load_run(code, stdout)
    assert code == ExitCode.GATES_FAILED
    assert "1 passed, 1 failed" in stdout
    assert second.findings["verdict"] == "fail"
    assert second.findings["training"]["from_cache"] is True
    assert second.findings["provenance"]["weights_sha256"] == run.findings["provenance"]["weights_sha256"]
    assert np.allclose(second.predictions["score"], run.predictions["score"])
    # Where the time went, stage by stage; this model trains an encoder layer, so no stage used the shared
    # cache of frozen-encoder vectors (tests/unit/models/test_encodings.py runs a head-only model through the pipeline).
    stages = {s["stage"]: s for s in run.findings["provenance"]["stages"]}
    assert {"plan: spec, data, gates", "train or load: model", "score test split: model"} <= set(stages)
    assert {f"audit model: {name}" for name in run.findings["metrics"]} <= set(stages)
    assert {f"audit twin (no DP): {name}" for name in run.findings["metrics"]} <= set(stages)
    assert all(s["texts"] == s["encoded"] == 0 for s in stages.values())
    # The stages run one after another inside the run: their times add up to no more than its wall time.
    listed = run.findings["provenance"]["stages"]
    rounding = 0.05 + 0.005 * len(listed)  # the run's seconds are rounded to 0.1, each stage's to 0.01
    assert len(stages) == len(listed) and sum(s["seconds"] for s in listed) <= run.findings["seconds"] + rounding
    # Where the cache saves the time: the second run loads the model in a fraction of the first's training.
    again = {s["stage"]: s["seconds"] for s in second.findings["provenance"]["stages"]}
    assert again["train or load: model"] < stages["train or load: model"]["seconds"] / 2
    assert not (second.report_dir / "twin").exists() and "mia" not in second.findings["metrics"]["privacy"]


def test_dp_on_a_model_opacus_cannot_wrap_exits_2_naming_the_layer_and_writes_no_report(  # type: ignore[no-untyped-def]
    tiny_bert: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import torch

    from fmaudit.training import fine_tuning as training

    def with_batch_norm(model_dir: Path, **options: Any):  # type: ignore[no-untyped-def]
        model, tokenizer = load_pretrained(model_dir, **options)
        model.bert.pooler.activation = torch.nn.Sequential(torch.nn.BatchNorm1d(32), torch.nn.Tanh())
        return model, tokenizer

    monkeypatch.setattr(training, "load_pretrained", with_batch_norm)
    path = workspace / "batchnorm.yaml"
    path.write_text(yaml.safe_dump(tiny_spec(tiny_bert), sort_keys=False))
    out = workspace / "batchnorm-reports"
    code, _ = run_cli(["run", str(path), "--out", str(out), "--cache-dir", str(workspace / "bn-cache"), "--quiet"])
    assert code == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert "training.privacy: Opacus cannot compute per-sample gradients for this model" in err
    assert "BatchNorm" in err and "pooler" in err
    assert not out.exists()


def test_outputs_re_render_byte_for_byte_and_redaction_withholds_every_test_row(  # type: ignore[no-untyped-def]
    first, workspace: Path, tmp_path: Path
) -> None:
    run, _ = first
    assert run_cli(["report", str(run.report_dir), "--out", str(tmp_path / "again")])[0] == ExitCode.OK
    written = {p.relative_to(run.report_dir): p.read_bytes() for p in run.report_dir.rglob("*") if p.is_file()}
    again = {p.relative_to(tmp_path / "again"): p.read_bytes() for p in (tmp_path / "again").rglob("*") if p.is_file()}
    assert again == written
    assert run_cli(["verify", str(run.report_dir)])[0] == ExitCode.OK

    assert run_cli(["report", str(run.report_dir), "--out", str(tmp_path / "red"), "--redact"])[0] == ExitCode.OK
    loaded = load_spec(workspace / "tiny.yaml")
    data = prepare(loaded.spec.data, base_dir=loaded.base_dir)
    pieces = [data.texts[i][20:80] for i in data.test_idx]  # any 60 characters from inside a test row's text

    def leaks(directory: Path) -> list[str]:
        files = [p for p in directory.rglob("*") if p.is_file()]
        return [str(p) for p in files if any(piece in p.read_text(errors="ignore") for piece in pieces)]

    assert leaks(run.report_dir), "the full report shows applicants' rows (so this test can fail)"
    assert leaks(tmp_path / "red") == []
    redacted = json.loads((tmp_path / "red" / "findings.json").read_text())
    assert redacted["metrics"] == run.findings["metrics"] and redacted["gates"] == run.findings["gates"]
    assert not (tmp_path / "red" / "predictions.csv").exists()


def test_diff_of_the_dp_model_against_its_twin_flags_the_privacy_cost(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    code, out = run_cli(["diff", str(run.report_dir / "twin"), str(run.report_dir), "--format", "json"])
    result = json.loads(out)
    assert code == ExitCode.OK
    cost = run.findings["metrics"]["privacy"]["cost"]["accuracy_drop"]
    (accuracy,) = [c for c in result["changes"] if c["path"] == "performance.accuracy"]
    assert accuracy["delta"] == pytest.approx(-cost["value"])
    twin = json.loads((run.report_dir / "twin" / "findings.json").read_text())["metrics"]["performance"]["accuracy"]
    dp = run.findings["metrics"]["performance"]["accuracy"]
    assert accuracy["basis"] == "intervals"
    assert accuracy["real"] == (twin["ci_high"] < dp["ci_low"] or dp["ci_high"] < twin["ci_low"])
    assert "privacy.cost.accuracy_drop" in result["added"]


@pytest.mark.skipif(chromium_binary() is None, reason="Chromium is not installed (apt-get install chromium)")
def test_the_full_report_reads_well_in_chromium(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    plugins = [section["plugin"] for section in run.findings["sections"]]
    assert {"performance", "fairness", "explanations", "robustness", "privacy"} <= set(plugins)
    sections = ["verdict", "model", "dataset", *plugins, "provenance"]
    assert_reads_well(run.report_dir / "report.html", sections, range(8, 40))


def test_the_full_report_prints_without_clipping(first) -> None:  # type: ignore[no-untyped-def]
    run, _ = first
    assert overflowing_pages(run.findings) == []
