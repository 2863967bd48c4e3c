"""``fmaudit export``: each kind of audited model written as a standard artifact that scores as audited, its
weights hashed to the run's manifest where they are copied, and bad input refused with nothing written. The
models are untrained (tests.support.exports): export does not care how the weights came to be."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from fmaudit.cli import main
from fmaudit.core.errors import ExitCode
from fmaudit.core.provenance import sha256_file
from fmaudit.models.tabular import TabularClassifier
from fmaudit.report.export_record import EXPORT_FILE
from tests.support.exports import (
    MAX_LENGTH,
    CachedRun,
    cached_run,
    hub_scores,
    random_mlp,
    sample_texts,
    tiny_classifier,
)

TEXT_TRAINING = {"epochs": 1, "max_length": MAX_LENGTH}
LORA = {"r": 4, "target_modules": ["query", "value"]}


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def export(run: CachedRun, dest: Path, *options: str) -> tuple[int, str, str]:
    return cli("export", str(run.run_dir), str(dest), "--cache-dir", str(run.cache_dir), *options)


@pytest.fixture(scope="module")
def tabular(tmp_path_factory: pytest.TempPathFactory) -> CachedRun:
    return cached_run(
        tmp_path_factory.mktemp("tabular"), random_mlp, model={"kind": "tabular", "hidden": [8]}, training={}
    )


@pytest.fixture(scope="module")
def text(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> CachedRun:
    return cached_run(
        tmp_path_factory.mktemp("text"),
        lambda _: tiny_classifier(tiny_bert),
        model={"base": str(tiny_bert)},
        training=TEXT_TRAINING,
        base=tiny_bert,
    )


@pytest.fixture(scope="module")
def lora(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> CachedRun:
    return cached_run(
        tmp_path_factory.mktemp("lora"),
        lambda _: tiny_classifier(tiny_bert, adapter=LORA),
        model={"base": str(tiny_bert)},
        training={**TEXT_TRAINING, "adapter": LORA},
        base=tiny_bert,
    )


def test_a_tabular_model_exports_as_onnx_that_scores_like_the_audited_mlp(tabular: CachedRun, tmp_path: Path) -> None:
    import onnxruntime

    dest = tmp_path / "mlp"
    code, out, err = export(tabular, dest)
    assert code == ExitCode.OK, err
    assert out.startswith(f"exported: {dest} (onnx, 4 files + export.json; model.safetensors is the audited weights)")
    names = sorted(p.name for p in dest.iterdir())
    assert names == ["README.md", "encoder.json", "export.json", "model.onnx", "model.safetensors"]
    assert sha256_file(dest / "model.safetensors") == tabular.weights_sha256
    rows = tabular.data.frame.iloc[tabular.data.test_idx[:50]]
    encoder = TabularClassifier.load(dest).encoder  # encoder.json as written, read back
    session = onnxruntime.InferenceSession(str(dest / "model.onnx"))
    (probabilities,) = session.run(["probabilities"], {"features": encoder.transform(rows)})
    audited = tabular.classifier.predict_frame(rows)
    assert np.abs(probabilities[:, 1] - audited).max() < 1e-6 and audited.std() > 1e-3
    record = json.loads((dest / EXPORT_FILE).read_text())
    assert record["form"] == "onnx" and record["weights_file"] == "model.safetensors"
    assert record["weights_sha256"] == tabular.weights_sha256 and record["max_length"] is None
    assert set(record["files"]) == {"README.md", "encoder.json", "model.onnx", "model.safetensors"}
    assert "`model.onnx` scores encoded features" in (dest / "README.md").read_text()


def test_a_text_model_exports_as_a_hugging_face_directory_that_plain_transformers_loads(
    text: CachedRun, tmp_path: Path
) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    dest = tmp_path / "hub"
    assert export(text, dest)[0] == ExitCode.OK
    assert sha256_file(dest / "model.safetensors") == text.weights_sha256
    model = AutoModelForSequenceClassification.from_pretrained(dest).eval()
    tokenizer = AutoTokenizer.from_pretrained(dest)
    texts = sample_texts(text)
    assert len(tokenizer(texts[0])["input_ids"]) > MAX_LENGTH  # truncation matters: the tokenizer must cut there
    assert np.abs(hub_scores(model, tokenizer, texts) - text.classifier.predict_proba(texts)).max() < 1e-6
    assert model.config.id2label == {0: "unfavourable (not good)", 1: "favourable (good)"}
    card = (dest / "README.md").read_text()
    assert card.startswith("---\n") and "# Model card: tiny" in card  # the run's own card, front matter first
    assert "`AutoModelForSequenceClassification.from_pretrained(THIS_DIRECTORY)`" in card


def test_a_mean_pooling_model_ships_its_pooling_so_a_plain_load_cannot_score_otherwise(
    tiny_bert: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    run = cached_run(
        tmp_path / "mean",
        lambda _: tiny_classifier(tiny_bert, pooling="mean"),
        model={"base": str(tiny_bert), "pooling": "mean"},
        training=TEXT_TRAINING,
        base=tiny_bert,
        formats=("md",),  # no model card among the run's files: export renders one from findings.json
    )
    dest = tmp_path / "hub"
    assert export(run, dest)[0] == ExitCode.OK
    with pytest.raises(ValueError, match="trust_remote_code"):  # not BERT's pooler in silence
        AutoModelForSequenceClassification.from_pretrained(dest)
    model = AutoModelForSequenceClassification.from_pretrained(dest, trust_remote_code=True).eval()
    texts = sample_texts(run)
    exported = hub_scores(model, AutoTokenizer.from_pretrained(dest), texts)
    assert np.abs(exported - run.classifier.predict_proba(texts)).max() < 1e-6
    card = (dest / "README.md").read_text()
    assert "# Model card: tiny" in card and "from_pretrained(THIS_DIRECTORY, trust_remote_code=True)" in card


def test_a_lora_model_exports_merged_by_default_and_as_a_peft_adapter_on_request(
    lora: CachedRun, tiny_bert: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    texts = sample_texts(lora)
    audited = lora.classifier.predict_proba(texts)
    code, out, _ = export(lora, tmp_path / "merged")
    assert code == ExitCode.OK and "(lora-merged, " in out and "weights derived from them" in out
    merged = AutoModelForSequenceClassification.from_pretrained(tmp_path / "merged").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "merged")
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert np.abs(hub_scores(merged, tokenizer, texts) - audited).max() < 1e-5
    base = AutoModelForSequenceClassification.from_pretrained(tiny_bert).eval()
    assert np.abs(hub_scores(base, tokenizer, texts) - audited).max() > 1e-3  # the adapter changes the scores
    record = json.loads((tmp_path / "merged" / EXPORT_FILE).read_text())
    assert record["weights_file"] is None and record["source"]["model.safetensors"] == lora.weights_sha256
    code, out, _ = cli("verify", str(lora.run_dir), "--model", str(tmp_path / "merged"))
    assert code == ExitCode.OK and "lora-merged: derived from the audited weights as export.json records" in out

    assert export(lora, tmp_path / "adapter", "--lora", "adapter")[0] == ExitCode.OK
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in (tmp_path / "adapter").iterdir()}
    adapted = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    assert np.abs(hub_scores(adapted, tokenizer, texts) - audited).max() < 1e-5


def test_export_into_a_directory_that_is_not_empty_exits_2_and_writes_nothing(
    tabular: CachedRun, tmp_path: Path
) -> None:
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    code, _, err = export(tabular, dest)
    assert code == ExitCode.INPUT_ERROR and f"{dest}: already exists and is not empty" in err
    assert [p.name for p in tmp_path.iterdir()] == ["taken"] and [p.name for p in dest.iterdir()] == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export(tabular, empty)[0] == ExitCode.OK and (empty / EXPORT_FILE).is_file()  # an empty one is taken


def test_a_failure_while_writing_leaves_no_partial_directory(text: CachedRun, tmp_path: Path) -> None:
    code, _, err = export(text, tmp_path / "models" / "credit", "--lora", "adapter")
    assert code == ExitCode.INPUT_ERROR and "--lora adapter: the audited model has no LoRA adapter" in err
    assert list(tmp_path.iterdir()) == []  # neither a staging directory nor the parent it made


def test_a_model_the_cache_no_longer_holds_exits_2_naming_the_cache_searched(
    tabular: CachedRun, tmp_path: Path
) -> None:
    code, _, err = cli("export", str(tabular.run_dir), str(tmp_path / "m"), "--cache-dir", str(tmp_path / "elsewhere"))
    assert code == ExitCode.INPUT_ERROR
    assert "the model cache no longer holds the audited model" in err and f"--cache-dir {tmp_path / 'elsewhere'}" in err
    assert not (tmp_path / "m").exists()


def test_a_run_that_does_not_verify_or_is_redacted_is_not_exported(tabular: CachedRun, tmp_path: Path) -> None:
    redacted = tmp_path / "redacted"
    assert cli("report", str(tabular.run_dir), "--out", str(redacted), "--format", "md", "--redact")[0] == ExitCode.OK
    code, _, err = cli("export", str(redacted), str(tmp_path / "m"), "--cache-dir", str(tabular.cache_dir))
    assert code == ExitCode.INPUT_ERROR and "a redacted run withholds its model cache key" in err
    (redacted / "summary.md").write_text("edited")
    code, _, err = cli("export", str(redacted), str(tmp_path / "m"), "--cache-dir", str(tabular.cache_dir))
    assert code == ExitCode.INPUT_ERROR
    assert "does not match its manifest (summary.md: content does not match its SHA-256 in the manifest)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["redacted"]
