"""Statistics of the training rows that training needs before its first step, released with the Gaussian
mechanism under DP: per-class label counts (for balanced class weights) and the mean feature vector (for
centring). Each is composed in the same Opacus accountant as the DP-SGD steps, so epsilon covers it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fmaudit.spec import PrivacySpec
from fmaudit.training.privacy import DPRandomness
from fmaudit.training.records import Release

if TYPE_CHECKING:
    import torch


def gaussian(shape: tuple[int, ...], std: float, randomness: DPRandomness) -> torch.Tensor:
    """Gaussian noise drawn as Opacus draws DP-SGD's (in secure mode hardened against floating-point attacks)."""
    import torch
    from opacus.optimizers.optimizer import _generate_noise

    return _generate_noise(std, torch.zeros(shape), randomness.noise, secure_mode=randomness.source == "secure")


def noisy_label_counts(
    labels: torch.Tensor, privacy: PrivacySpec, randomness: DPRandomness
) -> tuple[torch.Tensor, Release]:
    """Per-class counts plus Gaussian noise: adding or removing one row changes one count by 1 (L2 sensitivity 1)."""
    counts = labels.bincount(minlength=2).double()
    noisy = counts + gaussian(tuple(counts.shape), privacy.release_noise_multiplier, randomness).double()
    return noisy.float(), Release("label counts (one per class)", privacy.release_noise_multiplier, 1.0)


def noisy_mean(
    vectors: torch.Tensor, rows: float, privacy: PrivacySpec, randomness: DPRandomness
) -> tuple[torch.Tensor, Release]:
    """Mean of the rows clipped to ``feature_norm_bound`` (the sum's L2 sensitivity): a noisy sum over the
    number of rows, itself released with noise (the label counts)."""
    import torch

    bound = privacy.feature_norm_bound
    clipped = vectors * torch.clamp(bound / vectors.norm(dim=1, keepdim=True).clamp(min=1e-12), max=1.0)
    noise = gaussian((vectors.shape[1],), privacy.release_noise_multiplier * bound, randomness)
    mean = (clipped.double().sum(dim=0) + noise.double()) / max(rows, 1.0)
    name = f"mean feature vector (rows clipped to L2 norm {bound:g})"
    return mean.float(), Release(name, privacy.release_noise_multiplier, bound)
