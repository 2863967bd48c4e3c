"""Which parts of a pretrained encoder train: the top ``train_layers`` blocks, the pooler with them, the
embeddings on request, and the new head; frozen blocks run in eval mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fmaudit.core.errors import ModelError
from fmaudit.spec import TrainingSpec

if TYPE_CHECKING:
    from transformers import PreTrainedModel


ENCODER_LAYER_PATHS = ("encoder.layer", "transformer.layer", "layers", "h")


def encoder_layers(model: PreTrainedModel) -> list[Any]:
    """The encoder's transformer blocks, bottom to top, for the common architectures."""
    base = model.base_model
    for path in ENCODER_LAYER_PATHS:
        node: Any = base
        for part in path.split("."):
            node = getattr(node, part, None)
        if node is not None:
            return list(node)
    raise ModelError(
        f"training.train_layers: cannot find the encoder layers of {type(model).__name__}; use train_layers: all"
    )


def freeze(model: PreTrainedModel, training: TrainingSpec) -> list[str]:
    """Freeze what the spec keeps fixed; return the names of the modules that train."""
    base = model.base_model
    if training.train_layers == "all":
        for param in model.parameters():
            param.requires_grad = True
        trained = ["all encoder layers"]
    else:
        for param in base.parameters():
            param.requires_grad = False
        layers = encoder_layers(model)
        if training.train_layers > len(layers):
            raise ModelError(
                f"training.train_layers: {training.train_layers} asked, the model has {len(layers)} encoder layers"
            )
        top = layers[len(layers) - training.train_layers :]
        for layer in top:
            for param in layer.parameters():
                param.requires_grad = True
        # The pooler sits on top of the last layer and trains with it; train_layers: 0 trains the head alone.
        pooler = getattr(base, "pooler", None) if top else None
        if pooler is not None:
            for param in pooler.parameters():
                param.requires_grad = True
        first = len(layers) - training.train_layers
        trained = [f"encoder layers {first}-{len(layers) - 1}"] if top else []
        trained += ["pooler"] if pooler is not None else []
    embeddings = model.get_input_embeddings()
    embedding_module = getattr(base, "embeddings", embeddings)
    for param in embedding_module.parameters():
        param.requires_grad = training.train_embeddings
    if training.train_embeddings:
        trained.append("embeddings")
    trained.append("classifier head")
    return trained


def fix_frozen(model: PreTrainedModel, training: TrainingSpec) -> None:
    """Run frozen layers in eval mode: as fixed feature extractors they should not apply dropout. With an
    adapter every layer is adapted, none is a fixed feature extractor: the model trains in train mode."""
    if training.adapter is not None:
        return
    if training.train_layers != "all":
        layers = encoder_layers(model)
        for layer in layers[: len(layers) - training.train_layers]:
            layer.eval()
    if not training.train_embeddings:
        getattr(model.base_model, "embeddings", model.get_input_embeddings()).eval()
