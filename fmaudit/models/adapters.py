"""LoRA adapters through peft (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models").

The adapter is injected into the Hugging Face classifier in place (``peft.inject_adapter_in_model``), so
the model keeps its class, its input embeddings and its head: the training loop, Opacus, Captum and
TextAttack see the same model they see without an adapter. Only the adapter and the new head train;
they are what the cache stores, the base stays where it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fmaudit.core.errors import ModelError
from fmaudit.spec import AdapterSpec

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel


ADAPTABLE = ("Linear", "Conv1D")
"""Layer classes LoRA adapts here: linear projections (GPT-2's Conv1D is one too)."""


def target_modules(model: PreTrainedModel, adapter: AdapterSpec) -> list[str]:
    """The layer names to adapt: the spec's, each checked against the model, or peft's default for the
    architecture (the attention query and value projections)."""
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

    names = _adaptable_names(model)
    if adapter.target_modules is None:
        default = TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(model.config.model_type)
        if not default:
            raise ModelError(
                f"training.adapter.target_modules: peft has no default for {model.config.model_type!r} models; "
                f"name the layers to adapt, among: {', '.join(sorted(names))}"
            )
        return list(default)
    unknown = [name for name in adapter.target_modules if name not in names]
    if unknown:
        raise ModelError(
            f"training.adapter.target_modules: {', '.join(map(repr, unknown))} "
            f"{'names' if len(unknown) == 1 else 'name'} no linear layer of {type(model).__name__}; "
            f"expected some of: {', '.join(sorted(names))}; got {adapter.target_modules}"
        )
    return list(adapter.target_modules)


def lora_config(model: PreTrainedModel, adapter: AdapterSpec) -> Any:
    """peft's LoraConfig for the adapter on this model (its layers checked against the model's blocks)."""
    from peft import LoraConfig

    blocks = int(getattr(model.config, "num_hidden_layers", 0))
    if adapter.layers is not None and max(adapter.layers) >= blocks:
        raise ModelError(
            f"training.adapter.layers: {type(model).__name__} has {blocks} blocks (0-{blocks - 1}); "
            f"got {adapter.layers}"
        )
    return LoraConfig(
        r=adapter.r,
        lora_alpha=adapter.alpha,
        lora_dropout=adapter.dropout,
        target_modules=target_modules(model, adapter),
        layers_to_transform=adapter.layers,
    )


def apply_adapter(model: PreTrainedModel, adapter: AdapterSpec) -> list[str]:
    """Inject LoRA into the base model and make only the adapter and the head trainable; return the names
    of the modules that train (the DP statement lists them as the parameters covered)."""
    from peft import inject_adapter_in_model

    config = lora_config(model, adapter)
    targets = target_modules(model, adapter)  # in the spec's order, for the record (the config holds a set)
    base_ids = {id(p) for p in model.base_model.parameters()}
    inject_adapter_in_model(config, model)
    adapted = 0
    for name, param in model.named_parameters():
        is_adapter = "lora_" in name
        adapted += is_adapter and name.endswith("lora_A.default.weight")
        param.requires_grad = is_adapter or id(param) not in base_ids  # the head is not part of the base
    return [
        f"LoRA adapters (r = {adapter.r}, alpha = {adapter.alpha}, dropout = {adapter.dropout:g}) "
        f"on {', '.join(targets)}"
        + (f" of blocks {', '.join(map(str, adapter.layers))}" if adapter.layers is not None else "")
        + f": {adapted} linear layers",
        "classifier head",
    ]


def trained_state(model: Any) -> dict[str, torch.Tensor]:
    """The trained tensors only (adapter and head), as stored in the cache."""
    return {name: param.detach().contiguous() for name, param in model.named_parameters() if param.requires_grad}


def load_trained_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    """Put stored adapter and head tensors back into a freshly adapted model; every one must find its place."""
    expected = set(trained_state(model))
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise ModelError(f"cached adapter does not fit the model: missing {missing[:3]}, unexpected {extra[:3]}")
    model.load_state_dict(state, strict=False)


def _adaptable_names(model: PreTrainedModel) -> set[str]:
    """The last name component of every linear layer in the base model (the head is trained whole)."""
    return {
        name.rsplit(".", 1)[-1]
        for name, module in model.base_model.named_modules()
        if name and type(module).__name__ in ADAPTABLE
    }


def merge_adapter(model: Any) -> None:
    """Fold every LoRA update into the weight it adapts and put the plain layer back: the model is then its
    architecture's own class with no peft module left, so it saves and loads as any fine-tuned model."""
    from peft.tuners.lora import LoraLayer

    for name, module in list(model.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge(safe_merge=True)
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, module.get_base_layer())


PEFT_PREFIX = "base_model.model."
"""How peft's own adapter files name a tensor of the model it wraps."""


def peft_adapter(
    model: PreTrainedModel, adapter: AdapterSpec, state: dict[str, torch.Tensor]
) -> tuple[Any, dict[str, torch.Tensor]]:
    """The adapter as peft itself saves one (``adapter_config.json`` and ``adapter_model.safetensors``):
    its LoraConfig for a sequence classifier, and the stored tensors, unchanged, under peft's names."""
    config = lora_config(model, adapter)
    head = sorted({name.rsplit(".", 1)[0] for name in state if "lora_" not in name})
    config.task_type = "SEQ_CLS"
    config.modules_to_save = head
    renamed = {PEFT_PREFIX + name.replace(".default.", "."): tensor for name, tensor in state.items()}
    return config, renamed
