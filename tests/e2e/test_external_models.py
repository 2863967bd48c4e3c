"""Models trained elsewhere, audited as they are: every shipped spec in audits/external/ runs on the models its
script makes (a Trainer-fine-tuned classifier, a peft adapter, a skops pipeline and its ONNX twin, a scores
file), and the figures agree with the libraries that define them and with each other."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fmaudit.engine.pipeline import plan, run
from tests.support.specs import REPO

EXTERNAL = REPO / "audits" / "external"
SPECS = ("credit-hf", "credit-lora", "credit-skops", "credit-onnx", "credit-scores")

pytestmark = pytest.mark.slow


def _make_models() -> Any:
    found = importlib.util.spec_from_file_location("make_models", EXTERNAL / "make_models.py")
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped specs beside the models their script makes, quickly (one epoch; the adapter over a tiny base)."""
    where = tmp_path_factory.mktemp("external")
    for name in SPECS:
        shutil.copy(EXTERNAL / f"{name}.yaml", where / f"{name}.yaml")
    _make_models().make_all(where / "models", quick=True)
    lora = where / "credit-lora.yaml"  # quick: the adapter is over a tiny base, not MiniLM (seconds, not minutes)
    assert "    base: minilm " in lora.read_text()
    lora.write_text(lora.read_text().replace("    base: minilm ", "    base: models/tiny-base "))
    return where


@pytest.fixture(scope="module")
def run_dirs(external: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each spec run once: its report directory."""
    out, cache = tmp_path_factory.mktemp("reports"), tmp_path_factory.mktemp("cache")
    return {
        name: run(external / f"{name}.yaml", out=out, cache_dir=cache, show_progress_bars=False).report_dir
        for name in SPECS
    }


@pytest.fixture(scope="module")
def runs(run_dirs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Each spec's findings.json, read back."""
    return {name: json.loads((where / "findings.json").read_text()) for name, where in run_dirs.items()}


def _metrics(findings: dict[str, Any]) -> dict[str, Any]:
    return {m["path"]: m for section in findings["sections"] for m in section["metrics"]}


def test_a_trainer_fine_tuned_classifier_is_audited_by_every_plugin(runs: dict[str, dict[str, Any]]) -> None:
    findings = runs["credit-hf"]
    ran = {section["plugin"] for section in findings["sections"]}
    assert ran == {"performance", "fairness", "explanations", "robustness", "privacy", "behaviour"}
    metrics = _metrics(findings)
    assert metrics["privacy.mia.auc"]["value"] is not None  # members known: model.source.trained_on
    assert metrics["privacy.dp"]["value"] is None  # not verifiable: fmaudit did not train it
    assert metrics["fairness.sex.counterfactual.flip_rate"]["value"] is not None
    record = findings["training"]
    assert record["source_format"] == "huggingface" and record["training_rows"] == 700


def test_the_test_split_is_every_row_the_model_was_not_trained_on(external: Path) -> None:
    the_plan = plan(external / "credit-skops.yaml")
    trained = pd.read_csv(external / "models" / "train_ids.csv")["row"].to_numpy()
    assert np.array_equal(the_plan.data.train_idx, np.sort(trained))
    assert np.array_equal(the_plan.data.test_idx, np.setdiff1d(np.arange(1000), trained))


def test_the_manifest_identifies_the_model_by_its_files(external: Path, runs: dict[str, dict[str, Any]]) -> None:
    from fmaudit.core.provenance import sha256_file

    assert runs["credit-skops"]["provenance"]["weights_sha256"] == sha256_file(
        external / "models" / "credit-pipeline.skops"
    )
    assert runs["credit-scores"]["provenance"]["weights_sha256"] == sha256_file(
        external / "models" / "credit-scores.csv"
    )


@pytest.mark.parametrize(
    ("name", "artifact", "weights"),
    [
        ("credit-hf", "credit-hf", "credit-hf/model.safetensors"),
        ("credit-lora", "credit-lora", "credit-lora/adapter_model.safetensors"),
        ("credit-skops", "credit-pipeline.skops", "credit-pipeline.skops"),
        ("credit-onnx", "credit-pipeline.onnx", "credit-pipeline.onnx"),
        ("credit-scores", "credit-scores.csv", "credit-scores.csv"),
    ],
)
def test_verify_model_passes_on_the_audited_artifact_and_fails_after_one_byte(
    external: Path, run_dirs: dict[str, Path], tmp_path: Path, name: str, artifact: str, weights: str
) -> None:
    from fmaudit.cli import main

    copy = tmp_path / artifact
    source = external / "models" / artifact
    shutil.copytree(source, copy) if source.is_dir() else shutil.copy(source, copy)
    assert main(["verify", str(run_dirs[name]), "--model", str(copy)]) == 0
    changed = tmp_path / weights
    content = bytearray(changed.read_bytes())
    content[len(content) // 2] ^= 1
    changed.write_bytes(bytes(content))
    assert main(["verify", str(run_dirs[name]), "--model", str(copy)]) == 1


def test_skops_and_onnx_give_the_same_performance_and_fairness(runs: dict[str, dict[str, Any]]) -> None:
    skops, onnx = _metrics(runs["credit-skops"]), _metrics(runs["credit-onnx"])
    compared = [p for p in skops if p.startswith(("performance.", "fairness."))]
    assert len(compared) > 50
    for path in compared:
        a, b = skops[path]["value"], onnx[path]["value"]
        assert (a is None) == (b is None), path
        if a is not None:
            assert a == pytest.approx(b, abs=1e-6), path


def test_scores_only_fairness_equals_fairlearn_on_the_same_scores(
    external: Path, runs: dict[str, dict[str, Any]]
) -> None:
    from fairlearn.metrics import demographic_parity_ratio, equalized_odds_difference

    the_plan = plan(external / "credit-scores.yaml")
    data, test = the_plan.data, the_plan.data.test_idx
    scores = pd.read_csv(external / "models" / "credit-scores.csv").set_index("row")["score"]
    decisions = (scores.loc[test].to_numpy() >= 0.5).astype(int)
    metrics = _metrics(runs["credit-scores"])
    for attribute in ("sex", "age_group"):  # foreign workers: too few test rows to compare
        groups = data.sensitive[attribute].to_numpy()[test]
        expected = demographic_parity_ratio(data.labels[test], decisions, sensitive_features=groups)
        assert metrics[f"fairness.{attribute}.demographic_parity_ratio"]["value"] == pytest.approx(expected)
        expected = equalized_odds_difference(data.labels[test], decisions, sensitive_features=groups)
        assert metrics[f"fairness.{attribute}.equalized_odds_difference"]["value"] == pytest.approx(expected)
    assert not any(path.endswith("counterfactual.flip_rate") for path in metrics)  # needs the model
    assert metrics["performance.roc_auc"]["ci_low"] is not None


def test_scores_and_the_pipeline_they_came_from_agree(runs: dict[str, dict[str, Any]]) -> None:
    """The scores file is the skops pipeline's own predict_proba: the figures that read only scores match."""
    skops, scores = _metrics(runs["credit-skops"]), _metrics(runs["credit-scores"])
    for path in ("performance.roc_auc", "performance.accuracy", "fairness.sex.demographic_parity_ratio"):
        assert scores[path]["value"] == pytest.approx(skops[path]["value"], abs=1e-9), path


def _pickled(where: Path) -> str:
    (where / "models/credit-hf/model.safetensors").rename(where / "models/credit-hf/pytorch_model.bin")
    return "credit-hf"


def _three_labels(where: Path) -> str:
    config = where / "models/credit-hf/config.json"
    settings = json.loads(config.read_text())
    settings["id2label"] = {"0": "bad", "1": "good", "2": "unsure"}
    config.write_text(json.dumps(settings))
    return "credit-hf"


def _onnx_reads_a_column_the_template_lacks(where: Path) -> str:
    spec = where / "credit-onnx.yaml"
    spec.write_text(spec.read_text().replace("housing: {housing}; ", ""))
    return "credit-onnx"


def _repeated_score(where: Path) -> str:
    scores = where / "models/credit-scores.csv"
    scores.write_text(scores.read_text() + "3,0.5\n")
    return "credit-scores"


def _unknown_training_row(where: Path) -> str:
    ids = where / "models/train_ids.csv"
    ids.write_text(ids.read_text() + "1000\n")
    return "credit-scores"


@pytest.mark.parametrize(
    ("break_it", "key", "says"),
    [
        (_pickled, "model.source.path", "pytorch_model.bin is a pickle"),
        (_three_labels, "model.source.path", "3 outputs"),
        (_onnx_reads_a_column_the_template_lacks, "model.source.path", "housing"),
        (_repeated_score, "model.source.path", "must give each row one id"),
        (_unknown_training_row, "model.source.trained_on.file", "not rows of the data (e.g. '1000')"),
    ],
)
def test_bad_input_exits_2_naming_spec_and_key_with_nothing_written(
    external: Path, tmp_path: Path, break_it: Any, key: str, says: str
) -> None:
    import contextlib
    import io

    from fmaudit.cli import main

    where = Path(shutil.copytree(external, tmp_path / "copy"))
    name = break_it(where)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["run", str(where / f"{name}.yaml"), "--out", str(tmp_path / "out"), "--progress", "none"])
    assert code == 2, err.getvalue()
    assert f"{where / name}.yaml: {key}: " in err.getvalue() and says in err.getvalue()
    assert not (tmp_path / "out").exists()


def test_the_report_and_model_card_say_the_model_was_trained_elsewhere(
    run_dirs: dict[str, Path], tmp_path: Path
) -> None:
    from fmaudit.cli import main

    html = (run_dirs["credit-skops"] / "report.html").read_text()
    assert "audited as it is" in html and "700, as the spec declares (model.source.trained_on)" in html
    assert "Fine-tuned weights" not in html  # fmaudit fine-tuned nothing
    card_dir = tmp_path / "card"
    assert main(["report", str(run_dirs["credit-skops"]), "--format", "model-card", "--out", str(card_dir)]) == 0
    card = (card_dir / "model-card" / "README.md").read_text()
    assert "fmaudit did not train the model and cannot verify any privacy claim" in card
    assert "700 trained the model, as the spec declares" in card and "never seen in training" in card
