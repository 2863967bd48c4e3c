"""Pooling that matches the model: the sentence-transformers config is followed, mean pooling is a masked
mean that padding cannot move, and choosing it changes the cache key (and only then)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from fmaudit.core.errors import ModelError
from fmaudit.models.pooling import describe, resolve_pooling, shipped_pooling
from fmaudit.models.text import BUNDLED_MINILM, TextClassifier, load_pretrained, resolve_base_model
from fmaudit.spec import DataSpec, TrainingSpec
from fmaudit.training.cache import cache_key


def test_minilm_ships_mean_pooling_and_auto_follows_it(tmp_path: Path, tiny_bert: Path) -> None:
    minilm = resolve_base_model(BUNDLED_MINILM, base_dir=tmp_path, cache_dir=tmp_path)
    assert shipped_pooling(minilm) == "mean" and resolve_pooling("auto", minilm) == "mean"
    assert resolve_pooling("model", minilm) == "model"
    assert shipped_pooling(tiny_bert) is None and resolve_pooling("auto", tiny_bert) == "model"


def test_a_cls_pooling_config_keeps_the_classifier_s_own(tiny_bert: Path, tmp_path: Path) -> None:
    model_dir = Path(shutil.copytree(tiny_bert, tmp_path / "st"))
    (model_dir / "modules.json").write_text(
        json.dumps([{"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
    )
    (model_dir / "1_Pooling").mkdir()
    (model_dir / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    assert shipped_pooling(model_dir) == "cls" and resolve_pooling("auto", model_dir) == "model"


def test_mean_pooling_is_the_masked_mean_of_the_last_hidden_states(tiny_bert: Path) -> None:
    model, tokenizer = load_pretrained(tiny_bert, pooling="mean")
    assert describe(model).startswith("mean of the token states over the attention mask")
    model.eval()
    encoded = tokenizer(
        ["duration: 6 months", "a longer application text, padded less"], padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        out = model.base_model(**encoded)
    mask = encoded["attention_mask"].unsqueeze(-1).float()
    expected = (out.last_hidden_state * mask).sum(1) / mask.sum(1)
    torch.testing.assert_close(out.pooler_output, expected)
    classifier = TextClassifier(model, tokenizer, max_length=32)
    alone = classifier.predict_proba(["duration: 6 months"])
    assert alone[0] == pytest.approx(classifier.predict_proba(["duration: 6 months", "x " * 20])[0], abs=1e-6)


def test_mean_pooling_on_a_decoder_is_an_error_naming_the_key(tiny_llama: Path) -> None:
    with pytest.raises(ModelError, match=r"^model.pooling: 'mean' replaces an encoder's pooler; LlamaFor"):
        load_pretrained(tiny_llama, pooling="mean")


def test_only_a_chosen_pooling_enters_the_cache_key(spec_dict) -> None:  # type: ignore[no-untyped-def]
    arguments = dict(
        base_model_sha256="b",
        data_spec=DataSpec.model_validate(spec_dict["data"]),
        data_sha256="d",
        training=TrainingSpec(),
    )
    # Pinned at cache format 8.
    assert cache_key(**arguments) == cache_key(**arguments, pooling="model") == "525c275723e23908e51fdba1bf12b1fa"
    assert cache_key(**arguments, pooling="mean") != cache_key(**arguments)
