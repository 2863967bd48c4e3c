"""Masked mean pooling for a BERT-style classifier: the pooler replaced by the mean of the token states.

Standalone (torch only, no fmaudit import): an exported model directory ships this file verbatim as Hugging
Face remote code, so the model loads outside fmaudit and pools as it was audited (``fmaudit.models.hub``).
"""

from __future__ import annotations

from typing import Any

import torch


class MaskedMeanPooler(torch.nn.Module):
    """Mean of token states over the attention mask the encoder was called with (no parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.mask: torch.Tensor | None = None

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        mask = self.mask
        if mask is None or mask.shape != hidden_states.shape[:2]:
            mask = torch.ones(hidden_states.shape[:2], dtype=hidden_states.dtype)
        weights = mask.to(hidden_states.dtype).unsqueeze(-1)
        return (hidden_states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def use_mean_pooling(model: Any) -> None:
    """Replace the encoder's pooler with the masked mean; the encoder hands its mask to the pooler."""
    base = model.base_model
    base.pooler = MaskedMeanPooler()
    base.register_forward_pre_hook(_remember_mask, with_kwargs=True)


def _remember_mask(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Hand the encoder's attention mask to its mean pooler (the pooler is called with hidden states only)."""
    mask = kwargs.get("attention_mask")
    if mask is None and len(args) > 1:
        mask = args[1]
    module.pooler.mask = mask
