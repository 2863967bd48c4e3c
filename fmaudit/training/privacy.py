"""DP-SGD through Opacus (Abadi et al. 2016): secret randomness, wrap model, optimizer, loss and loader; split
sampled batches for memory; take the noise-only step an empty Poisson batch calls for; record what the
accountant says.

Noise that anyone holding the report can regenerate protects nothing, so by default the DP noise and the
Poisson batch sampling come from torch generators seeded from OS entropy (``os.urandom``, never recorded);
``secure_mode`` uses Opacus's cryptographically secure generator, and ``reproducible_noise`` seeds both from
the spec (experiments only). Initialisation, dropout and everything the audits sample stay seeded.

The noise multiplier is calibrated on Opacus's accountant with the statistics released before training
already in its history, so the declared epochs and the releases together reach the target epsilon.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fmaudit.core.errors import ModelError
from fmaudit.spec import GDP_COMPOSITION, PrivacySpec, TrainingSpec
from fmaudit.training.records import PrivacyRecord, Release

if TYPE_CHECKING:
    import torch

NoiseSource = Literal["os-entropy", "secure", "seeded"]
EPSILON_TOLERANCE = 0.01
"""How far below the target the calibrated epsilon may land (Opacus's own default tolerance)."""


@dataclass(frozen=True)
class DPRandomness:
    """The generators the releases, the DP-SGD noise and the Poisson sampling draw from, and what they are."""

    noise: torch.Generator
    sampling: torch.Generator | None
    """None under secure_mode: Opacus then samples batches with its own secure generator."""
    source: NoiseSource

    @property
    def optimizer_generator(self) -> torch.Generator | None:
        """What Opacus's optimizer is given (it refuses a generator in secure mode and uses its own)."""
        return None if self.source == "secure" else self.noise


def dp_randomness(privacy: PrivacySpec, seed: int) -> DPRandomness:
    """Secret generators for the DP noise and the Poisson sampling, unless the spec asks for seeded ones."""
    import torch

    if privacy.secure_mode:
        try:
            import torchcsprng
        except ImportError as exc:
            raise ModelError(f"training.privacy.secure_mode: needs torchcsprng ({exc})") from exc
        return DPRandomness(torchcsprng.create_random_device_generator("/dev/urandom"), None, "secure")
    if privacy.reproducible_noise:
        return DPRandomness(torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1), "seeded")
    noise, sampling = (torch.Generator().manual_seed(int.from_bytes(os.urandom(8), "little")) for _ in range(2))
    return DPRandomness(noise, sampling, "os-entropy")


def calibrated_noise_multiplier(
    privacy: PrivacySpec, *, sample_rate: float, steps: int, releases: list[Release]
) -> float:
    """The smallest DP-SGD noise multiplier (within the tolerance) at which the releases and ``steps`` sampled
    steps together stay within the target epsilon, by bisection on Opacus's own accountant."""
    from opacus.accountants import create_accountant

    if privacy.accountant == "gdp" and releases:  # the spec refuses this; never report one mechanism's epsilon
        raise ModelError(f"training.privacy.accountant: gdp: {GDP_COMPOSITION}")
    accountant = create_accountant(mechanism=privacy.accountant)
    fixed = [release.history_entry for release in releases]

    def epsilon(sigma: float) -> float:
        accountant.history = [*fixed, (sigma, sample_rate, steps)]
        return float(accountant.get_epsilon(delta=privacy.delta))

    low, high = 0.0, 10.0
    with _secure_rng_notice_silenced():
        while epsilon(high) > privacy.target_epsilon:
            low, high = high, high * 2
            if high > 1e4:
                raise ModelError(
                    f"training.privacy: epsilon {privacy.target_epsilon:g} is out of reach: the released statistics "
                    "alone spend it (raise release_noise_multiplier)"
                )
        for _ in range(60):
            if epsilon(high) >= privacy.target_epsilon - EPSILON_TOLERANCE:
                break
            middle = (low + high) / 2
            if epsilon(middle) > privacy.target_epsilon:
                low = middle
            else:
                high = middle
    return high


def make_private(
    model: Any,
    optimizer: Any,
    criterion: Any,
    loader: Any,
    training: TrainingSpec,
    privacy: PrivacySpec,
    *,
    randomness: DPRandomness,
    releases: list[Release],
) -> tuple[Any, Any, Any, Any, Any]:
    """Wrap model, optimizer, loss and loader for DP-SGD with noise calibrated so that the training steps and
    the releases together reach the target epsilon; refuse, naming the layers, what Opacus cannot handle."""
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
    sigma = calibrated_noise_multiplier(
        privacy, sample_rate=1 / len(loader), steps=training.epochs * len(loader), releases=releases
    )
    try:
        with _secure_rng_notice_silenced():
            made = engine.make_private(
                module=model,
                optimizer=optimizer,
                criterion=criterion,
                data_loader=loader,
                noise_multiplier=sigma,
                max_grad_norm=privacy.max_grad_norm,
                poisson_sampling=True,
                grad_sample_mode=privacy.grad_sample_mode,
                noise_generator=randomness.optimizer_generator,
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
    """Opacus warns that secure RNG is off (the DP statement records the noise source instead) and, while
    calibrating the noise, that the optimal RDP order is at the edge of its grid (the epsilon reported
    is the accountant's own, computed after training); its PRV accountant takes log(1 - q) = log(0) for a
    release at sample rate 1, which it handles (the comparison with -inf holds everywhere)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
        warnings.filterwarnings("ignore", message="divide by zero encountered in log", category=RuntimeWarning)
        yield


@contextlib.contextmanager
def hook_notice_silenced() -> Iterator[None]:
    """With frozen embeddings no input requires grad, and torch notes that Opacus's full backward
    hooks then fire on module outputs: that is exactly what per-sample gradients need."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield


def composed_epsilon(records: list[PrivacyRecord], *, delta: float) -> float:
    """Epsilon at ``delta`` of several DP models trained on the same rows, all released: every model's
    history composed in one accountant (sequential composition). The models' own accountant where it composes
    (prv, rdp); PRV for gdp, which cannot."""
    mechanisms = {record.accountant for record in records}
    steps: dict[tuple[float, float], int] = {}
    for record in records:  # equal mechanisms compose as one run of their summed steps: PRV's cost grows per entry
        for noise, rate, count in record.history:
            steps[noise, rate] = steps.get((noise, rate), 0) + count
    history = tuple((noise, rate, count) for (noise, rate), count in steps.items())
    return _epsilon(history, delta, "rdp" if mechanisms == {"rdp"} else "prv")


@functools.lru_cache(maxsize=32)
def _epsilon(history: tuple[tuple[float, float, int], ...], delta: float, mechanism: str) -> float:
    """Opacus's epsilon of one composed history; cached, since the audited model and each seed replica state
    the same releases (each call of PRV costs seconds)."""
    from opacus.accountants import create_accountant

    accountant = create_accountant(mechanism=mechanism)
    accountant.history = list(history)
    with _secure_rng_notice_silenced():
        return float(accountant.get_epsilon(delta=delta))


def privacy_record(
    engine: Any,
    optimizer: Any,
    loader: Any,
    training: TrainingSpec,
    privacy: PrivacySpec,
    *,
    dataset_size: int,
    randomness: DPRandomness,
    releases: list[Release],
    outside: list[str],
) -> PrivacyRecord:
    """The record of a finished DP run; epsilon from the engine's accountant with the releases composed in."""
    steps = int(sum(entry[2] for entry in engine.accountant.history))
    engine.accountant.history.extend(release.history_entry for release in releases)
    with _secure_rng_notice_silenced():
        epsilon = float(engine.get_epsilon(privacy.delta))
    sample_rate = float(loader.sample_rate) if hasattr(loader, "sample_rate") else 1 / len(loader)
    return PrivacyRecord(
        target_epsilon=privacy.target_epsilon,
        epsilon=epsilon,
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
        noise_source=randomness.source,
        releases=releases,
        outside_guarantee=outside,
    )
