"""Layer freezing, the cache key, Opacus's refusals, and what fine-tuning trains and reproduces (model resolution
offline is in tests/unit/models/test_text_model.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fmaudit.core.errors import ModelError
from fmaudit.models.text import load_pretrained
from fmaudit.spec import DataSpec, ModelSpec, TrainingSpec
from fmaudit.training.cache import cache_key
from fmaudit.training.freeze import freeze
from tests.support.training import fine_tune_tiny


def test_freezing_trains_only_the_top_layers_and_the_head(tiny_bert: Path) -> None:
    model, _ = load_pretrained(tiny_bert)
    trained = freeze(model, TrainingSpec(train_layers=1))
    assert trained == ["encoder layers 1-1", "pooler", "classifier head"]
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert any(name.startswith("bert.encoder.layer.1.") for name in trainable)
    assert not any(name.startswith(("bert.encoder.layer.0.", "bert.embeddings.")) for name in trainable)
    assert {"classifier.weight", "classifier.bias"} <= trainable


def test_asking_for_more_layers_than_the_model_has(tiny_bert: Path) -> None:
    model, _ = load_pretrained(tiny_bert)
    with pytest.raises(ModelError, match="training.train_layers: 5 asked, the model has 2 encoder layers"):
        freeze(model, TrainingSpec(train_layers=5))


def test_cache_key_tracks_what_determines_the_weights(spec_dict) -> None:  # type: ignore[no-untyped-def]
    data = DataSpec.model_validate(spec_dict["data"])
    key = cache_key(base_model_sha256="a", data_spec=data, data_sha256="d", training=TrainingSpec())
    assert key == cache_key(base_model_sha256="a", data_spec=data, data_sha256="d", training=TrainingSpec())
    assert key != cache_key(base_model_sha256="b", data_spec=data, data_sha256="d", training=TrainingSpec())
    assert key != cache_key(base_model_sha256="a", data_spec=data, data_sha256="e", training=TrainingSpec())
    assert key != cache_key(base_model_sha256="a", data_spec=data, data_sha256="d", training=TrainingSpec(epochs=4))
    # Regrouping sensitive attributes changes the audit, not the weights.
    regrouped = data.model_copy(update={"intersections": []})
    assert key == cache_key(base_model_sha256="a", data_spec=regrouped, data_sha256="d", training=TrainingSpec())


def test_opacus_refusal_names_the_layer(tiny_bert: Path, spec_dict) -> None:  # type: ignore[no-untyped-def]
    import torch

    from fmaudit.training.privacy import dp_randomness, make_private

    model, _ = load_pretrained(tiny_bert)
    model.bert.pooler.activation = torch.nn.Sequential(torch.nn.BatchNorm1d(32), torch.nn.Tanh())
    training = TrainingSpec.model_validate({"privacy": {"target_epsilon": 8, "delta": 1e-5}})
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(4, 3)), batch_size=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert training.privacy is not None
    with pytest.raises(ModelError, match="Opacus cannot compute per-sample gradients.*BatchNorm"):
        make_private(
            model.train(),
            optimizer,
            torch.nn.CrossEntropyLoss(),
            loader,
            training,
            training.privacy,
            randomness=dp_randomness(training.privacy, 0),
            releases=[],
        )


def test_zero_layers_trains_the_head_alone(tiny_bert: Path) -> None:
    model, _ = load_pretrained(tiny_bert)
    assert freeze(model, TrainingSpec(train_layers=0)) == ["classifier head"]
    assert {name for name, p in model.named_parameters() if p.requires_grad} == {"classifier.weight", "classifier.bias"}


def test_an_unreadable_cache_entry_counts_as_a_miss(tmp_path: Path) -> None:
    from fmaudit.training.cache import RECORD_FILE, load_cached

    def load(directory: Path) -> Any:
        raise AssertionError("a miss must not load weights")

    assert load_cached(tmp_path / "absent", load) is None
    (tmp_path / RECORD_FILE).write_text('{"base_model": "x"')  # cut off mid-write
    assert load_cached(tmp_path, load) is None


def test_frozen_layers_train_without_dropout(tiny_bert: Path) -> None:
    from fmaudit.training.freeze import fix_frozen

    model, _ = load_pretrained(tiny_bert)
    settings = TrainingSpec(train_layers=1)
    freeze(model, settings)
    model.train()
    fix_frozen(model, settings)
    assert not model.bert.embeddings.training and not model.bert.encoder.layer[0].training
    assert model.bert.encoder.layer[1].training and model.dropout.training


def test_training_is_reproducible_including_the_new_head(tiny_bert: Path, tmp_path: Path, spec_dict) -> None:  # type: ignore[no-untyped-def]
    """A base model without a classifier gets a fresh head; with the seed fixed, two runs give the same weights."""
    from transformers import BertModel

    from fmaudit.data import prepare
    from fmaudit.training.fine_tuning import fine_tune

    headless = tmp_path / "headless"
    BertModel.from_pretrained(tiny_bert).save_pretrained(headless)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (headless / name).write_bytes((tiny_bert / name).read_bytes())
    spec_dict["data"]["max_rows"] = 80
    data_spec = DataSpec.model_validate(spec_dict["data"])
    data = prepare(data_spec, base_dir=tmp_path)
    training = TrainingSpec(epochs=1, batch_size=16, max_length=32, train_layers=1, seed=3)
    records = [
        fine_tune(
            model_spec=ModelSpec(base=str(headless)),
            base_dir=tmp_path,
            data=data,
            data_spec=data_spec,
            data_sha256="d",
            training=training,
            cache_dir=tmp_path / f"cache{i}",
            show_progress=False,
        )[1]
        for i in range(2)
    ]
    assert records[0].weights_sha256 == records[1].weights_sha256
    assert records[0].epoch_losses == records[1].epoch_losses


def _train_private(tiny_bert: Path, tmp_path: Path, spec_dict, **privacy) -> object:  # type: ignore[no-untyped-def]
    # Seeded noise: the two clipping modes below must see the same noise to train the same model.
    seeded = {"target_epsilon": 8, "delta": 1e-3, "accountant": "rdp", "reproducible_noise": True}
    return fine_tune_tiny(tiny_bert, tmp_path, spec_dict, train_layers=1, privacy={**seeded, **privacy})


def test_physical_batches_keep_the_logical_steps_and_ghost_clipping_matches_per_sample_gradients(  # type: ignore[no-untyped-def]
    tiny_bert: Path, tmp_path: Path, spec_dict
) -> None:
    """BatchMemoryManager splits each sampled batch for memory only: the accountant sees the same steps.
    Ghost clipping computes the same clipped sum without per-sample gradients: with the same noise, the
    same training run."""
    from opacus.accountants import create_accountant

    split = _train_private(tiny_bert, tmp_path, spec_dict, max_physical_batch_size=4)
    ghost = _train_private(tiny_bert, tmp_path, spec_dict, max_physical_batch_size=4, grad_sample_mode="ghost")
    for record in (split, ghost):
        privacy = record.privacy  # type: ignore[attr-defined]
        assert privacy.steps == 2 * 4  # 2 epochs x ceil(56 train rows / 16): logical batches, not physical ones
        accountant = create_accountant(mechanism="rdp")
        accountant.history = [(privacy.noise_multiplier, privacy.sample_rate, privacy.steps)]
        assert privacy.epsilon == pytest.approx(accountant.get_epsilon(delta=1e-3), rel=1e-6)
    assert split.privacy.max_physical_batch_size == 4  # type: ignore[attr-defined]
    assert ghost.privacy.grad_sample_mode == "ghost"  # type: ignore[attr-defined]
    assert ghost.epoch_losses == pytest.approx(split.epoch_losses, abs=1e-4)  # type: ignore[attr-defined]


def test_a_reference_model_trains_on_the_given_rows_under_its_own_cache_key(  # type: ignore[no-untyped-def]
    tiny_bert: Path, tmp_path: Path, spec_dict
) -> None:
    from fmaudit.data import prepare
    from fmaudit.training.fine_tuning import fine_tune

    spec_dict["data"]["max_rows"] = 80
    data_spec = DataSpec.model_validate(spec_dict["data"])
    data = prepare(data_spec, base_dir=tmp_path)
    training = TrainingSpec(epochs=1, batch_size=16, max_length=32, train_layers=0)
    common = {
        "model_spec": ModelSpec(base=str(tiny_bert)),
        "base_dir": tmp_path,
        "data": data,
        "data_spec": data_spec,
        "data_sha256": "d",
        "training": training,
        "cache_dir": tmp_path / "cache",
        "show_progress": False,
    }
    full = fine_tune(**common)[1]  # type: ignore[arg-type]
    half = fine_tune(**common, rows=data.train_idx[::2])[1]  # type: ignore[arg-type]
    assert full.training_rows == len(data.train_idx) and half.training_rows == len(data.train_idx[::2])
    assert full.cache_key != half.cache_key and full.rows_sha256 != half.rows_sha256


def test_twin_and_sweep_settings_do_not_change_the_cache_key(spec_dict) -> None:  # type: ignore[no-untyped-def]
    data = DataSpec.model_validate(spec_dict["data"])
    privacy = {"target_epsilon": 8, "delta": 1e-5}

    def key(**extra: object) -> str:
        training = TrainingSpec.model_validate({"privacy": {**privacy, **extra}})
        return cache_key(base_model_sha256="a", data_spec=data, data_sha256="d", training=training)

    assert key() == key(compare=False) == key(sweep=[1, 4])
    assert key() != key(max_grad_norm=2.0)


@pytest.mark.parametrize("mode", ["hooks", "ghost"])
def test_an_empty_poisson_batch_takes_an_accounted_noise_only_step(mode: str) -> None:
    """DP-SGD's analysis assumes a noisy step at every sampling round, an empty one included."""
    import torch
    from opacus import PrivacyEngine

    from fmaudit.training.privacy import _secure_rng_notice_silenced, empty_step

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 2))
    data = torch.utils.data.TensorDataset(torch.randn(20, 4), torch.randint(0, 2, (20,)))
    with _secure_rng_notice_silenced():
        engine = PrivacyEngine()
        made = engine.make_private(
            module=model,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            data_loader=torch.utils.data.DataLoader(data, batch_size=5),
            noise_multiplier=1.0,
            max_grad_norm=1.0,
            criterion=torch.nn.CrossEntropyLoss(),
            grad_sample_mode=mode,
        )
    before = [p.detach().clone() for p in model.parameters()]
    empty_step(made[1])
    assert engine.accountant.history == [(1.0, 0.25, 1)]
    assert any(not torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))


@pytest.mark.parametrize("private", [False, True])
def test_head_only_training_on_pooled_outputs_matches_training_through_the_encoder(  # type: ignore[no-untyped-def]
    tiny_bert: Path, tmp_path: Path, spec_dict, private: bool
) -> None:
    """The fast path (encoder run once, head trained on its pooled output) learns the same head."""
    import torch

    from fmaudit.data import prepare
    from fmaudit.training.feeds import TextFeed
    from fmaudit.training.fine_tuning import Origin, _text_model
    from fmaudit.training.loop import train

    spec_dict["data"]["max_rows"] = 80
    data = prepare(DataSpec.model_validate(spec_dict["data"]), base_dir=tmp_path)
    privacy = {"target_epsilon": 8, "delta": 1e-3, "reproducible_noise": True} if private else None
    training = TrainingSpec.model_validate(
        {"epochs": 2, "batch_size": 16, "max_length": 32, "train_layers": 0, "privacy": privacy}
    )
    origin = Origin("tiny", str(tiny_bert), "sha")
    heads = []
    for fast in (True, False):
        torch.manual_seed(0)
        built = _text_model(origin, data, training, cache_dir=tmp_path / "cache", show_progress=False)
        assert built.trainee is not built.model  # a BERT-style head-only spec takes the fast path
        model = built.trainee if fast else built.model
        feed = built.feed if fast else TextFeed(built.wrap(None).tokenizer, data, training)  # type: ignore[attr-defined]
        train(model, feed, data=data, rows=data.train_idx, training=training, show_progress=False)
        heads.append(built.model.classifier.weight.detach().clone())
    assert not torch.equal(heads[0], torch.zeros_like(heads[0]))
    torch.testing.assert_close(heads[0], heads[1], atol=1e-5, rtol=1e-4)
