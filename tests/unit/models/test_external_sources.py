"""Loading models trained elsewhere: the Hugging Face directory's refusals and its favourable output, and the
scores file's checks against the data (each a ModelError that names the file and the key)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fmaudit.core.errors import ModelError
from fmaudit.data import prepare
from fmaudit.models.huggingface import favourable_output, load_classifier_dir
from fmaudit.models.scores import load_scores
from fmaudit.spec import DataSpec, SourceSpec
from tests.support.specs import GERMAN_CREDIT_SPEC
from tests.support.tiny_model import build_tiny_bert


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return prepare(DataSpec.model_validate(GERMAN_CREDIT_SPEC["data"]), base_dir=Path.cwd())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny") / "model", initializer_range=0.5)


def _load(directory: Path, tmp_path: Path, **source: object):  # type: ignore[no-untyped-def]
    spec = SourceSpec.model_validate({"format": "huggingface", "path": str(directory), **source})
    return load_classifier_dir(spec, directory, favourable_values=["good"], base_dir=tmp_path, cache_dir=tmp_path)


def _copy(tiny: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny, tmp_path / "copy"))


def test_the_favourable_output_comes_from_id2label_or_the_spec() -> None:
    assert favourable_output({0: "bad", 1: "good"}, None, ["good"]) == 1
    assert favourable_output({0: "good", 1: "bad"}, None, ["good"]) == 0
    assert favourable_output({0: "LABEL_0", 1: "LABEL_1"}, 0, ["good"]) == 0
    assert favourable_output({0: "no", 1: "yes"}, "yes", ["good"]) == 1
    with pytest.raises(ModelError, match="does not say which one is favourable"):
        favourable_output({0: "LABEL_0", 1: "LABEL_1"}, None, ["good"])
    with pytest.raises(ModelError, match="neither match data.positive"):
        favourable_output({0: "no", 1: "yes"}, None, ["good"])
    with pytest.raises(ModelError, match="is not an output"):
        favourable_output({0: "bad", 1: "good"}, "approved", ["good"])


def test_a_model_with_its_favourable_output_first_scores_like_one_with_it_second(
    tiny: Path, tmp_path: Path, data  # type: ignore[no-untyped-def]
) -> None:
    second, _ = _load(tiny, tmp_path, favourable_label=1)
    first, _ = _load(tiny, tmp_path, favourable_label=0)
    rows = np.arange(8)
    assert np.allclose(first.predict_rows(data, rows), 1 - second.predict_rows(data, rows), atol=1e-6)
    assert not np.allclose(second.predict_rows(data, rows), 0.5, atol=1e-3)  # the test can see a flip


def test_the_weight_files_are_what_identify_the_model(tiny: Path, tmp_path: Path) -> None:
    _, files = _load(tiny, tmp_path, favourable_label=1)
    assert [f.name for f in files] == ["model.safetensors"]


def test_pickled_weights_are_refused_with_how_to_convert(tiny: Path, tmp_path: Path) -> None:
    copy = _copy(tiny, tmp_path)
    (copy / "model.safetensors").rename(copy / "pytorch_model.bin")
    with pytest.raises(ModelError, match=r"pytorch_model.bin is a pickle.*safe_serialization=True"):
        _load(copy, tmp_path, favourable_label=1)


def test_a_directory_without_config_or_tokenizer_is_refused(tiny: Path, tmp_path: Path) -> None:
    copy = _copy(tiny, tmp_path)
    (copy / "config.json").unlink()
    with pytest.raises(ModelError, match="no config.json"):
        _load(copy, tmp_path, favourable_label=1)
    shutil.rmtree(copy)
    copy = _copy(tiny, tmp_path)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        (copy / name).unlink(missing_ok=True)
    with pytest.raises(ModelError, match="has no tokenizer"):
        _load(copy, tmp_path, favourable_label=1)


def test_a_classifier_with_three_labels_is_refused(tiny: Path, tmp_path: Path) -> None:
    copy = _copy(tiny, tmp_path)
    config = json.loads((copy / "config.json").read_text())
    config["id2label"] = {"0": "bad", "1": "good", "2": "unsure"}
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"3 outputs \(bad, good, unsure\).*binary"):
        _load(copy, tmp_path)


def _scores_file(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "scores.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_scores_file_is_read_by_row_id(tmp_path: Path, data) -> None:  # type: ignore[no-untyped-def]
    scores = np.linspace(0, 1, data.n_rows)
    path = _scores_file(tmp_path, pd.DataFrame({"row": np.arange(data.n_rows)[::-1], "score": scores[::-1]}))
    loaded = load_scores(path, data, id_column="row", score_column="score", kind="text")
    assert np.allclose(loaded.predict_rows(data, data.test_idx), scores[data.test_idx])
    with pytest.raises(ModelError, match="cannot score a changed row"):
        loaded.predict_records([{}], template="")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(score=f["score"].where(f["row"] != 3, 1.5)), r"outside \[0, 1\].*1.5 for row '3'"),
        (lambda f: f.assign(score=f["score"].where(f["row"] != 3, np.nan)), "missing or outside"),
        (lambda f: pd.concat([f, f.iloc[:1]]), "must give each row one id"),
        (lambda f: f.assign(row=f["row"].where(f["row"] != 3, 5000)), "not rows of the data"),
        (lambda f: f.iloc[50:], r"no score for \d+ of the 300 test rows"),
        (lambda f: f.rename(columns={"score": "p"}), "no column 'score'"),
    ],
)
def test_a_bad_scores_file_is_refused_naming_the_problem(
    tmp_path: Path, data, change, message: str  # type: ignore[no-untyped-def]
) -> None:
    frame = pd.DataFrame({"row": np.arange(data.n_rows), "score": np.full(data.n_rows, 0.5)})
    with pytest.raises(ModelError, match=message):
        load_scores(_scores_file(tmp_path, change(frame)), data, id_column="row", score_column="score", kind="text")


def test_fmaudits_own_mean_pooling_export_is_audited_as_it_scored(tiny_bert: Path, tmp_path: Path) -> None:
    """The export ships mean pooling as remote code; fmaudit reads it without running that code, pooled and
    truncated as audited, its favourable output named by the export."""
    from fmaudit.cli import main
    from tests.support.exports import MAX_LENGTH, cached_run, sample_texts, tiny_classifier

    run = cached_run(
        tmp_path / "mean",
        lambda _: tiny_classifier(tiny_bert, pooling="mean"),
        model={"base": str(tiny_bert), "pooling": "mean"},
        training={"epochs": 1, "max_length": MAX_LENGTH},
        base=tiny_bert,
        formats=("md",),
    )
    dest = tmp_path / "hub"
    assert main(["export", str(run.run_dir), str(dest), "--cache-dir", str(run.cache_dir)]) == 0
    spec = SourceSpec.model_validate({"format": "huggingface", "path": str(dest)})
    loaded, _ = load_classifier_dir(spec, dest, favourable_values=["good"], base_dir=tmp_path, cache_dir=tmp_path)
    assert loaded.max_length == MAX_LENGTH and loaded.favourable_index == 1
    texts = sample_texts(run)
    assert np.abs(loaded.predict_proba(texts) - run.classifier.predict_proba(texts)).max() < 1e-6


def test_a_decoder_classifier_directory_scores_as_transformers_does_row_by_row(
    tiny_llama: Path, tmp_path: Path, data  # type: ignore[no-untyped-def]
) -> None:
    """A Llama-style sequence classifier (last-token pooling) scores batched, padded rows as the plain model
    scores each row alone: padding must not move the token it pools."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    loaded, files = _load(tiny_llama, tmp_path, favourable_label=1, max_length=64)
    assert type(loaded.model).__name__ == "LlamaForSequenceClassification" and files
    rows = np.arange(6)
    plain = AutoModelForSequenceClassification.from_pretrained(tiny_llama).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    alone = []
    for i in rows:
        with torch.inference_mode():
            encoded = tokenizer(data.texts[i], truncation=True, max_length=64, return_tensors="pt")
            alone.append(torch.softmax(plain(**encoded).logits, -1)[0, 1].item())
    assert np.allclose(loaded.predict_rows(data, rows), alone, atol=1e-5)
    assert np.std(alone) > 1e-4  # the rows score differently, so a pooled pad token would show
