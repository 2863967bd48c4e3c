"""Pooling that matches the model: how token states become the one vector the classifier head reads.

Sentence-transformers models (all-MiniLM-L6-v2 is one) are trained for the mean of their token states, not
for BERT's pooler (first token, dense + tanh), which their training never touched; they say so in
``modules.json`` / ``1_Pooling/config.json``. Measured on the demo split: a frozen-feature probe on
mean-pooled MiniLM reaches ROC AUC 0.742 against 0.729 on the pooler output.

Mean pooling replaces the encoder's pooler module, so everything that runs the classifier (the training
loop, Opacus, the cached pooled outputs, Captum, TextAttack) runs the same pooling without knowing of it.
Imported only where a model is loaded: it imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fmaudit.core.errors import ModelError
from fmaudit.models.mean_pooling import MaskedMeanPooler, use_mean_pooling

if TYPE_CHECKING:
    from transformers import PreTrainedModel

Pooling = Literal["model", "mean"]
"""'model': the classifier's own (BERT's pooler, a decoder's last non-padding token); 'mean': masked mean."""

MEAN_POOLING = "mean of the token states over the attention mask (the model's sentence-transformers pooling)"
"""How a mean-pooling classifier's training record (``TrainingRecord.pooling``) describes it."""


def resolve_pooling(asked: str, model_dir: Path) -> Pooling:
    """'auto' becomes the pooling the model ships a config for (sentence-transformers), else its own."""
    if asked == "mean" or (asked == "auto" and shipped_pooling(model_dir) == "mean"):
        return "mean"
    return "model"


def shipped_pooling(model_dir: Path) -> str | None:
    """The pooling a sentence-transformers model directory declares ('mean', 'cls', ...), or None."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        path = next(m["path"] for m in modules if m.get("type", "").endswith("Pooling"))
        config = json.loads((model_dir / path / "config.json").read_text())
    except (OSError, ValueError, StopIteration, KeyError, TypeError):
        return None
    modes = [
        key.removeprefix("pooling_mode_").removesuffix("_tokens").removesuffix("_token")
        for key, on in config.items()
        if key.startswith("pooling_mode_") and on
    ]
    return modes[0] if len(modes) == 1 else None


def use_pooling(model: PreTrainedModel, pooling: Pooling) -> None:
    """Make the classifier pool as asked (mean pooling replaces the encoder's pooler)."""
    if pooling == "model":
        return
    base = model.base_model
    if getattr(base, "pooler", None) is None:
        raise ModelError(
            f"model.pooling: 'mean' replaces an encoder's pooler; {type(model).__name__} has none "
            "(a decoder classifier pools its last non-padding token: use pooling: auto or model)"
        )
    use_mean_pooling(model)


def recorded_pooling(description: str) -> Pooling:
    """The pooling a training record describes: how the cached model must be loaded to score as it did."""
    return "mean" if description == MEAN_POOLING else "model"


def describe(model: PreTrainedModel) -> str:
    """How the classifier pools, in words for the report."""
    pooler = getattr(model.base_model, "pooler", None)
    if isinstance(pooler, MaskedMeanPooler):
        return MEAN_POOLING
    if pooler is not None:
        return "pooler output (first token, dense + tanh)"
    if hasattr(model, "score"):
        return "last non-padding token (decoder)"
    return "the model's own classification head"
