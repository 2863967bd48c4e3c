"""A check that training trains what it claims to: every trainable tensor must change.

LoRA weights can silently stop updating (opacus#820, peft#3409: a model moved after the adapter was
injected leaves the optimiser holding other tensors), and a report would then describe a model that never
learned. After the first optimiser step taken at a non-zero rate (warm-up starts at 0) every trainable tensor
must have changed; a tensor whose gradient was exactly zero at that step (LoRA's A matrices, while B is still
zero) must have changed by the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fmaudit.core.errors import ModelError

if TYPE_CHECKING:
    import torch


class UpdateCheck:
    """Snapshots the trainable tensors before training; ``after_step`` and ``at_end`` compare them."""

    def __init__(self, model: Any) -> None:
        self.waiting: dict[str, torch.Tensor] = {
            name: param.detach().clone() for name, param in model.named_parameters() if param.requires_grad
        }
        self.first_done = False
        self.later_steps = 0

    def after_step(self, model: Any) -> None:
        """After the first real optimiser step: tensors unchanged despite a gradient are an error."""
        if self.first_done:
            self.later_steps += 1
            return
        self.first_done = True
        import torch

        stuck, zero_gradient = [], {}
        for name, param in model.named_parameters():
            before = self.waiting.get(name)
            if before is None or not torch.equal(param.detach(), before):
                continue
            if param.grad is not None and not torch.any(param.grad):
                zero_gradient[name] = before
            else:
                stuck.append(name)
        if stuck:
            raise ModelError(_message(stuck, "after the first optimiser step"))
        self.waiting = zero_gradient

    def at_end(self, model: Any) -> None:
        """After training: tensors that had no gradient at the first step must have changed since (given a
        later step: with LoRA, A first gets a gradient once B has moved)."""
        import torch

        if not self.later_steps:
            return
        params = dict(model.named_parameters())
        stuck = [name for name, before in self.waiting.items() if torch.equal(params[name].detach(), before)]
        if stuck:
            raise ModelError(_message(stuck, "by the end of training"))


def _message(names: list[str], when: str) -> str:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (
        f"training: {len(names)} trainable tensors did not change {when}: {shown}. The optimiser is not "
        "updating the model's own tensors (known with LoRA when the model is moved after the adapter is "
        "injected: opacus#820, peft#3409); the trained model would not be the one described."
    )
