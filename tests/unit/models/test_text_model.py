"""Text models offline: a base model resolved from the bundled copy, a local directory or the hub cache (never
downloaded), and predictions padded to the longest text of the batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmaudit.core.errors import ModelError
from fmaudit.models.text import BUNDLED_MINILM, TextClassifier, load_pretrained, resolve_base_model


def test_bundled_minilm_resolves_to_its_package_directory(tmp_path: Path) -> None:
    directory = resolve_base_model(BUNDLED_MINILM, base_dir=tmp_path, cache_dir=tmp_path)
    assert (directory / "model.safetensors").is_file() and (directory / "vocab.txt").is_file()


def test_local_directory_relative_to_the_spec(tiny_bert: Path) -> None:
    assert resolve_base_model(tiny_bert.name, base_dir=tiny_bert.parent, cache_dir=tiny_bert.parent) == tiny_bert


def test_a_directory_without_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    with pytest.raises(ModelError, match="has no config.json"):
        resolve_base_model("weights", base_dir=tmp_path, cache_dir=tmp_path)


def test_an_uncached_hub_id_is_refused_without_touching_the_network(tmp_path, monkeypatch, no_network) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelError, match="fmaudit never downloads at run time"):
        resolve_base_model("some-org/not-cached-model", base_dir=tmp_path, cache_dir=tmp_path)
    assert no_network == []


def test_predictions_pad_to_the_longest_text_not_to_model_max_length(tiny_bert: Path) -> None:
    model, tokenizer = load_pretrained(tiny_bert)
    classifier = TextClassifier(model, tokenizer, max_length=64)
    assert classifier.encode(["short", "a somewhat longer text here"])["input_ids"].shape == (2, 7)
    scores = classifier.predict_proba(["a", "b c", "d e f"])
    assert scores.shape == (3,) and ((scores > 0) & (scores < 1)).all()
