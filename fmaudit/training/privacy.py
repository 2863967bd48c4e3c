"""DP-SGD through Opacus (Abadi et al. 2016): wrap model, optimizer, loss and loader; split sampled batches
for memory; take the noise-only step an empty Poisson batch calls for; record what the accountant says.

The noise multiplier is calibrated (``make_private_with_epsilon``) so that training for the declared epochs
reaches the target epsilon.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

from fmaudit.errors import ModelError
from fmaudit.spec import PrivacySpec, TrainingSpec
from fmaudit.training.records import PrivacyRecord


def make_private(
    model: Any, optimizer: Any, criterion: Any, loader: Any, training: TrainingSpec, privacy: PrivacySpec
) -> tuple[Any, Any, Any, Any, Any]:
    """Wrap model, optimizer, loss and loader for DP-SGD; refuse, naming the layers, what Opacus cannot handle."""
    from opacus import PrivacyEngine
    from opacus.validators import ModuleValidator

    errors = ModuleValidator.validate(model, strict=False)
    if errors:
        raise ModelError(
            "training.privacy: Opacus cannot compute per-sample gradients for this model: "
            + "; ".join(_named_refusals(model) or [str(error) for error in errors])
        )
    with _secure_rng_notice_silenced():
        try:
            engine = PrivacyEngine(accountant=privacy.accountant, secure_mode=privacy.secure_mode)
        except ImportError as exc:
            raise ModelError(f"training.privacy.secure_mode: {exc}") from exc
    try:
        with _secure_rng_notice_silenced():
            made = engine.make_private_with_epsilon(
                module=model,
                optimizer=optimizer,
                criterion=criterion,
                data_loader=loader,
                target_epsilon=privacy.target_epsilon,
                target_delta=privacy.delta,
                epochs=training.epochs,
                max_grad_norm=privacy.max_grad_norm,
                poisson_sampling=True,
                grad_sample_mode=privacy.grad_sample_mode,
            )
    except NotImplementedError as exc:
        raise ModelError(f"training.privacy: Opacus cannot wrap this model: {exc}") from exc
    if privacy.grad_sample_mode == "ghost":  # ghost clipping also wraps the loss: two backward passes in one
        wrapped, dp_optimizer, criterion, dp_loader = made
    else:
        wrapped, dp_optimizer, dp_loader = made
    return wrapped, dp_optimizer, criterion, dp_loader, engine

def _named_refusals(model: Any) -> list[str]:
    """Opacus's refusals, each with the name of the trained layer it is about (Opacus's own omit it)."""
    from opacus.utils.module_utils import trainable_modules
    from opacus.validators import ModuleValidator

    refusals = []
    for name, module in trainable_modules(model):
        check = ModuleValidator.VALIDATORS.get(type(module))
        for error in check(module) if check is not None else []:
            refusals.append(f"layer {name} ({type(module).__name__}): {str(error).split('. ')[0]}")
    return refusals

@contextlib.contextmanager
def physical_batches(loader: Any, optimizer: Any, privacy: PrivacySpec | None) -> Iterator[Any]:
    """Under DP, Opacus's BatchMemoryManager splits each sampled (logical) batch into physical batches of
    at most ``max_physical_batch_size`` rows: memory is bounded, the privacy analysis is unchanged."""
    if privacy is None:
        yield loader
        return
    from opacus.utils.batch_memory_manager import BatchMemoryManager

    with BatchMemoryManager(
        data_loader=loader, max_physical_batch_size=privacy.max_physical_batch_size, optimizer=optimizer
    ) as batches:
        yield batches

def empty_step(optimizer: Any) -> None:
    """An empty Poisson batch still takes a DP step (noise only, and accounted), as the analysis assumes."""
    import torch

    params = getattr(optimizer, "params", None)
    if params is None:  # non-private training never draws an empty batch
        return
    for param in params:
        param.grad_sample = torch.zeros((0, *param.shape))
        param.grad = torch.zeros_like(param)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)

def unwrapped(model: Any) -> Any:
    """The plain model inside Opacus's GradSampleModule, if wrapped (hooks stay on until ``standard``)."""
    return getattr(model, "_module", model)

def standard(model: Any) -> Any:
    """The plain model with Opacus's hooks and per-sample gradients removed, ready for inference and Captum."""
    return model.to_standard_module() if hasattr(model, "to_standard_module") else model

@contextlib.contextmanager
def _secure_rng_notice_silenced() -> Iterator[None]:
    """Opacus warns that secure RNG is off (the DP statement records secure_mode instead) and, while
    calibrating the noise, that the optimal RDP order is at the edge of its grid (the epsilon reported
    is the accountant's own, computed after training)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
        yield

@contextlib.contextmanager
def hook_notice_silenced() -> Iterator[None]:
    """With frozen embeddings no input requires grad, and torch notes that Opacus's full backward
    hooks then fire on module outputs: that is exactly what per-sample gradients need."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield

def privacy_record(
    engine: Any, optimizer: Any, loader: Any, training: TrainingSpec, privacy: PrivacySpec, *, dataset_size: int
) -> PrivacyRecord:
    history = engine.accountant.history
    steps = int(sum(entry[2] for entry in history))
    sample_rate = float(loader.sample_rate) if hasattr(loader, "sample_rate") else 1 / len(loader)
    return PrivacyRecord(
        target_epsilon=privacy.target_epsilon,
        epsilon=float(engine.get_epsilon(privacy.delta)),
        delta=privacy.delta,
        accountant=privacy.accountant,
        noise_multiplier=float(optimizer.noise_multiplier),
        max_grad_norm=privacy.max_grad_norm,
        sample_rate=sample_rate,
        expected_batch_size=round(sample_rate * dataset_size, 2),
        dataset_size=dataset_size,
        epochs=training.epochs,
        steps=steps,
        poisson_sampling=True,
        secure_mode=privacy.secure_mode,
        max_physical_batch_size=privacy.max_physical_batch_size,
        grad_sample_mode=privacy.grad_sample_mode,
    )
