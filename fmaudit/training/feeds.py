"""How the one training loop feeds each kind of model: per-row input tensors, logits for a batch, the
optimizer's parameter groups, and any module to settle (frozen layers to eval mode)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from fmaudit.data import PreparedData
from fmaudit.spec import TrainingSpec
from fmaudit.training.freeze import fix_frozen
from fmaudit.training.privacy import unwrapped

if TYPE_CHECKING:
    import torch

    from fmaudit.models.tabular import TabularEncoder


class Feed(Protocol):
    """How the one training loop feeds a kind of model: per-row input tensors, logits for a batch,
    optimizer parameter groups, and any module to settle (e.g. frozen layers to eval mode)."""

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]: ...

    def logits(self, model: Any, inputs: Sequence[torch.Tensor]) -> torch.Tensor: ...

    def parameter_groups(self, model: Any, training: TrainingSpec) -> list[dict[str, Any]]: ...

    def settle(self, model: Any) -> None: ...

    @property
    def fitted_on_rows(self) -> tuple[str, ...]:
        """Statistics of the training rows the feed's inputs depend on, outside any DP accounting (each is
        listed under "outside the guarantee" in the DP statement)."""
        ...


@dataclass(frozen=True)
class TextFeed:
    """Feeds a pretrained sequence classifier: tokenised texts trimmed per batch, head and body rates."""

    tokenizer: Any
    data: PreparedData
    training: TrainingSpec

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        encoded = self.tokenizer(
            [self.data.texts[i] for i in rows],
            truncation=True,
            max_length=self.training.max_length,
            padding="max_length",
            return_tensors="pt",
        )
        return encoded["input_ids"], encoded["attention_mask"]

    def logits(self, model: Any, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        input_ids, attention_mask = inputs
        width = int(attention_mask.sum(dim=1).max())
        accepted = _forward_parameters(type(unwrapped(model)).forward)
        return model(**_batch_inputs(input_ids[:, :width], attention_mask[:, :width], accepted)).logits

    def parameter_groups(self, model: Any, training: TrainingSpec) -> list[dict[str, Any]]:
        """A separate (usually higher) rate for the newly initialised head."""
        base_ids = {id(p) for p in model.base_model.parameters()}
        body = [p for p in model.parameters() if p.requires_grad and id(p) in base_ids]
        head = [p for p in model.parameters() if p.requires_grad and id(p) not in base_ids]
        groups = [{"params": head, "lr": training.head_learning_rate or training.learning_rate}]
        if body:
            groups.append({"params": body, "lr": training.learning_rate})
        return groups

    def settle(self, model: Any) -> None:
        fix_frozen(model, self.training)

    @property
    def fitted_on_rows(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class PooledFeed:
    """Head-only training of a BERT-style classifier: the frozen encoder's pooled output is computed once
    per row, so every epoch (and every DP step) runs the dropout + linear head alone, not the encoder.

    The same numbers as ``TextFeed`` up to float rounding: frozen layers run in eval mode there too.
    With ``centre`` the head trains on ``(pooled - centre) * scale``, an affine map that ``fold`` moves into
    the head's linear layer afterwards, so the saved model is the plain classifier reading raw pooled outputs.
    """

    pooled: dict[int, torch.Tensor]
    centre: torch.Tensor | None = None
    scale: float = 1.0

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        import torch

        pooled = torch.stack([self.pooled[int(i)] for i in rows])
        return (pooled if self.centre is None else (pooled - self.centre) * self.scale,)

    def fold(self, head: Any) -> None:
        """Make the trained head read raw pooled outputs: W x' + b with x' = s (x - c) is (s W) x + (b - s W c)."""
        import torch

        if self.centre is None:
            return
        linear = head[-1]
        with torch.no_grad():
            linear.bias -= self.scale * linear.weight @ self.centre
            linear.weight *= self.scale

    def logits(self, model: Any, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return model(inputs[0])  # type: ignore[no-any-return]

    def parameter_groups(self, model: Any, training: TrainingSpec) -> list[dict[str, Any]]:
        return [{"params": list(model.parameters()), "lr": training.head_learning_rate or training.learning_rate}]

    def settle(self, model: Any) -> None:
        """Nothing is frozen inside the head."""

    @property
    def fitted_on_rows(self) -> tuple[str, ...]:
        return ()  # the centre is computed by the loop (released with noise under DP), not by the feed


@dataclass(frozen=True)
class TabularFeed:
    """What the training loop needs to train the MLP: encoded rows, logits, one parameter group."""

    encoder: TabularEncoder
    data: PreparedData

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        import torch

        return (torch.as_tensor(self.encoder.transform(self.data.frame.iloc[rows])),)

    def logits(self, model: Any, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return model(inputs[0])

    def parameter_groups(self, model: Any, training: TrainingSpec) -> list[dict[str, Any]]:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": training.learning_rate}]

    def settle(self, model: Any) -> None:
        """Nothing is frozen in the MLP."""

    @property
    def fitted_on_rows(self) -> tuple[str, ...]:
        return ("the tabular encoder's numeric means and scales and its category lists, fitted on the training rows",)


@functools.cache
def _forward_parameters(forward: Callable[..., Any]) -> frozenset[str]:
    """The keyword arguments a model class's forward accepts (looked up once per class, not per batch)."""
    return frozenset(inspect.signature(forward).parameters)


def _batch_inputs(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, accepted: frozenset[str]
) -> dict[str, torch.Tensor]:
    """Model inputs with batch-sized position/type ids: BERT's batch-1 buffers break Opacus's per-sample grads."""
    import torch

    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    batch, width = input_ids.shape
    if "position_ids" in accepted:
        inputs["position_ids"] = torch.arange(width).unsqueeze(0).expand(batch, width)
    if "token_type_ids" in accepted:
        inputs["token_type_ids"] = torch.zeros_like(input_ids)
    return inputs
