"""LoRA through peft on a tiny BERT and a tiny Llama (SmolLM2's tokenizer): what trains, what the cache
keeps, DP-LoRA's epsilon against the accountant, the update check, and bad adapter settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from fmaudit.core.errors import ModelError, SpecError
from fmaudit.data import PreparedData, prepare
from fmaudit.models.text import TextClassifier, load_pretrained
from fmaudit.spec import AdapterSpec, DataSpec, ModelSpec, TrainingSpec, load_spec
from fmaudit.training.cache import cache_key
from fmaudit.training.fine_tuning import Origin, _text_model, fine_tune
from fmaudit.training.loop import train
from fmaudit.training.updates import UpdateCheck

LORA = {"r": 4, "alpha": 8}


def small_data(spec_dict: dict[str, Any], tmp_path: Path, rows: int = 80) -> tuple[DataSpec, PreparedData]:
    spec_dict["data"]["max_rows"] = rows
    data_spec = DataSpec.model_validate(spec_dict["data"])
    return data_spec, prepare(data_spec, base_dir=tmp_path)


def lora_training(**changes: Any) -> TrainingSpec:
    settings = {"epochs": 2, "batch_size": 16, "max_length": 48, "learning_rate": 1e-2, "adapter": LORA}
    return TrainingSpec.model_validate(settings | changes)


@pytest.mark.parametrize("base", ["tiny_bert", "tiny_llama"])
def test_lora_changes_only_adapter_and_head_weights(base: str, request, spec_dict, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model_dir: Path = request.getfixturevalue(base)
    _, data = small_data(spec_dict, tmp_path)
    training = lora_training()
    built = _text_model(Origin("tiny", str(model_dir), "sha"), data, training, cache_dir=tmp_path, show_progress=False)
    before = {name: p.detach().clone() for name, p in built.model.named_parameters()}
    trainable = {name for name, p in built.model.named_parameters() if p.requires_grad}
    train(built.model, built.feed, data=data, rows=data.train_idx, training=training, show_progress=False)

    changed = {name for name, p in built.model.named_parameters() if not torch.equal(p.detach(), before[name])}
    assert changed == trainable
    head = {"tiny_bert": {"classifier.weight", "classifier.bias"}, "tiny_llama": {"score.weight"}}[base]
    assert head <= trainable and all("lora_" in name for name in trainable - head)
    targets = {"tiny_bert": ("query", "value"), "tiny_llama": ("q_proj", "v_proj")}[base]
    adapted = {name.split(".lora_")[0].rsplit(".", 1)[-1] for name in trainable - head}
    assert adapted == set(targets)
    assert built.trained_modules[0].startswith(f"LoRA adapters (r = 4, alpha = 8, dropout = 0) on {', '.join(targets)}")


@pytest.mark.parametrize("mode", ["hooks", "ghost"])
def test_dp_lora_epsilon_equals_the_accountant_replay_and_the_cache_reloads_identical_scores(  # type: ignore[no-untyped-def]
    tiny_llama: Path, spec_dict, tmp_path: Path, mode: str
) -> None:
    from opacus.accountants import create_accountant

    data_spec, data = small_data(spec_dict, tmp_path)
    training = lora_training(privacy={"target_epsilon": 4, "delta": 1e-3, "grad_sample_mode": mode})
    arguments: dict[str, Any] = dict(
        model_spec=ModelSpec(base=str(tiny_llama)),
        base_dir=tmp_path,
        data=data,
        data_spec=data_spec,
        data_sha256="sha",
        training=training,
        cache_dir=tmp_path / "cache",
        show_progress=False,
    )
    classifier, record = fine_tune(**arguments)
    privacy = record.privacy
    assert privacy is not None and privacy.grad_sample_mode == mode
    accountant = create_accountant(mechanism=privacy.accountant)
    accountant.history = [(privacy.noise_multiplier, privacy.sample_rate, privacy.steps)]
    assert privacy.epsilon == pytest.approx(accountant.get_epsilon(delta=privacy.delta), rel=1e-6)
    assert privacy.epsilon <= 4.01
    assert record.trained_modules[-1] == "classifier head" and "LoRA" in record.trained_modules[0]
    assert record.trainable_parameters < record.total_parameters / 100
    assert len(record.epoch_seconds) == 2 and record.pooling == "last non-padding token (decoder)"

    reloaded, cached = fine_tune(**arguments)
    assert cached.from_cache and cached.weights_sha256 == record.weights_sha256
    rows = data.test_idx[:8]
    assert (reloaded.predict_rows(data, rows) == classifier.predict_rows(data, rows)).all()
    stored = Path(tmp_path / "cache" / record.cache_key / "model.safetensors").stat().st_size
    assert stored < 4 * record.trainable_parameters + 4096  # adapter and head only: the base stays where it is


def test_an_adapter_changes_the_cache_key_and_no_adapter_keeps_the_old_one(spec_dict) -> None:  # type: ignore[no-untyped-def]
    data_spec = DataSpec.model_validate(spec_dict["data"])
    keys = [
        cache_key(base_model_sha256="b", data_spec=data_spec, data_sha256="d", training=TrainingSpec.model_validate(t))
        for t in ({}, {"adapter": LORA}, {"adapter": {**LORA, "r": 8}})
    ]
    assert len(set(keys)) == 3
    # Pinned at cache format 8 (the DP noise source and the pooling changed what a key produces): no adapter
    # adds nothing to the key, so models cached without one stay found until the format changes again.
    assert keys[0] == "525c275723e23908e51fdba1bf12b1fa"


def test_a_tensor_the_optimiser_does_not_update_is_an_error() -> None:
    """The opacus#820 / peft#3409 pitfall, staged: the optimiser holds copies, not the model's tensors."""
    model = torch.nn.Linear(3, 2)
    check = UpdateCheck(model)
    stale = [torch.nn.Parameter(p.detach().clone()) for p in model.parameters()]
    optimizer = torch.optim.SGD(stale, lr=0.1)
    loss = model(torch.ones(4, 3)).sum() + sum(p.sum() for p in stale)
    loss.backward()
    optimizer.step()
    with pytest.raises(ModelError, match=r"2 trainable tensors did not change after the first optimiser step"):
        check.after_step(model)


def test_a_tensor_with_zero_gradient_at_first_must_change_by_the_end() -> None:
    """LoRA's A has an exactly zero gradient while B is zero: allowed at the first step, not for ever."""
    model = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False), torch.nn.Linear(2, 1, bias=False))
    torch.nn.init.zeros_(model[1].weight)
    check = UpdateCheck(model)
    optimizer = torch.optim.SGD([model[1].weight], lr=0.1)  # A (model[0]) is never stepped
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    check.after_step(model)
    check.at_end(model)  # one step only: A could not have moved yet
    check.after_step(model)
    with pytest.raises(ModelError, match=r"did not change by the end of training: 0.weight"):
        check.at_end(model)


def test_an_unknown_target_module_is_an_error_naming_the_key_and_the_choices(tiny_bert: Path) -> None:
    from fmaudit.models.adapters import apply_adapter

    model, _ = load_pretrained(tiny_bert)
    with pytest.raises(ModelError) as raised:
        apply_adapter(model, AdapterSpec(target_modules=["query", "q_proj"]))
    message = str(raised.value)
    assert message.startswith("training.adapter.target_modules: 'q_proj' names no linear layer of Bert")
    assert "expected some of: dense, key, query, value" in message


@pytest.mark.parametrize(
    ("adapter", "expected"),
    [
        ({"r": 0}, "training.adapter.r: Input should be greater than 0; got 0"),
        ({"r": -2}, "training.adapter.r: Input should be greater than 0; got -2"),
        ({"alpha": 0}, "training.adapter.alpha: Input should be greater than 0; got 0"),
        ({"dropout": 1.0}, "training.adapter.dropout: Input should be less than 1; got 1.0"),
        ({"kind": "ia3"}, "training.adapter.kind: Input should be 'lora'; got 'ia3'"),
        ({"target_modules": []}, "training.adapter.target_modules: List should have at least 1 item"),
        ({"alpah": 8}, "training.adapter.alpah: unknown key (did you mean 'alpha'?)"),
    ],
)
def test_bad_adapter_settings_are_spec_errors_naming_the_key(  # type: ignore[no-untyped-def]
    spec_dict, write_spec, adapter: dict[str, Any], expected: str
) -> None:
    spec_dict["training"] = {"adapter": adapter}
    path = write_spec(spec_dict)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert any(problem.startswith(f"{path}: {expected}") for problem in raised.value.problems), raised.value.problems


def test_an_adapter_with_unfrozen_layers_or_a_tabular_model_is_a_spec_error(spec_dict, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec_dict["training"] = {"adapter": LORA, "train_layers": 2}
    with pytest.raises(SpecError, match=r"training.train_layers: unfreezes base-model layers; with training.adapter"):
        load_spec(write_spec(spec_dict))
    spec_dict["model"] = {"kind": "tabular"}
    spec_dict["training"] = {"adapter": LORA}
    with pytest.raises(SpecError, match=r"training.adapter: configures a pretrained text encoder"):
        load_spec(write_spec(spec_dict))


def test_a_decoder_without_a_pad_token_gets_one_that_the_model_pools_on(tiny_llama: Path) -> None:
    model, tokenizer = load_pretrained(tiny_llama)
    assert tokenizer.pad_token_id == model.config.pad_token_id == 2 and tokenizer.padding_side == "right"
    classifier = TextClassifier(model, tokenizer, max_length=32)
    alone = classifier.predict_proba(["duration: 6 months"])
    padded = classifier.predict_proba(["duration: 6 months", "a much longer text, padded to the right of the first"])
    assert alone[0] == pytest.approx(padded[0], abs=1e-5)  # last non-pad token pooling ignores the padding


def test_adapting_only_the_top_blocks_leaves_the_others_untouched(tiny_bert: Path) -> None:
    from fmaudit.models.adapters import apply_adapter

    model, _ = load_pretrained(tiny_bert)
    modules = apply_adapter(model, AdapterSpec(r=2, layers=[1]))
    assert modules[0] == "LoRA adapters (r = 2, alpha = 16, dropout = 0) on query, value of blocks 1: 2 linear layers"
    adapted = {name for name, p in model.named_parameters() if p.requires_grad and "lora_" in name}
    assert adapted and all(name.startswith("bert.encoder.layer.1.") for name in adapted)
    with pytest.raises(ModelError, match=r"^training.adapter.layers: BertForSequenceClassification has 2 blocks"):
        apply_adapter(load_pretrained(tiny_bert)[0], AdapterSpec(layers=[2]))
