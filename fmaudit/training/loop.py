"""The one training loop, private or not, for any kind of model: a feed gives it inputs and parameter
groups, Opacus (when the spec asks for DP) wraps it, and it returns the trained model in eval mode."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from fmaudit.core.errors import ModelError
from fmaudit.data import PreparedData
from fmaudit.spec import TrainingSpec
from fmaudit.training.feeds import Feed, PooledFeed
from fmaudit.training.privacy import (
    DPRandomness,
    dp_randomness,
    empty_step,
    hook_notice_silenced,
    make_private,
    physical_batches,
    privacy_record,
    standard,
    unwrapped,
)
from fmaudit.training.records import PrivacyRecord, Release
from fmaudit.training.releases import noisy_label_counts, noisy_mean
from fmaudit.training.updates import UpdateCheck

if TYPE_CHECKING:
    import torch


def train(
    model: Any,
    feed: Feed,
    *,
    data: PreparedData,
    rows: np.ndarray,
    training: TrainingSpec,
    show_progress: bool,
) -> Trained:
    """The one training loop, private or not, for any kind of model; returns the unwrapped model in eval mode."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from tqdm.auto import tqdm

    torch.manual_seed(training.seed)
    labels = torch.as_tensor(data.labels[rows], dtype=torch.long)
    randomness = dp_randomness(training.privacy, training.seed) if training.privacy is not None else None
    class_weights, feed, releases = _statistics(feed, rows, labels, training, randomness)
    dataset = TensorDataset(*feed.inputs(rows), labels)
    # Under DP the Poisson sampling that replaces this shuffle must be secret too: it is the amplification.
    sampling = randomness.sampling if randomness is not None else None
    loader = DataLoader(
        dataset,
        batch_size=training.batch_size,
        shuffle=True,
        generator=sampling or torch.Generator().manual_seed(training.seed),
    )
    model.train()  # from_pretrained returns eval mode, which Opacus refuses
    optimizer = _optimizer(feed.parameter_groups(model, training), training)
    # Mean of per-example losses, so Opacus's per-sample gradients scale with the batch size as it expects.
    criterion = torch.nn.CrossEntropyLoss(weight=class_weights, reduction="mean")
    engine = None
    if training.privacy is not None and randomness is not None:
        model, optimizer, criterion, loader, engine = make_private(
            model, optimizer, criterion, loader, training, training.privacy, randomness=randomness, releases=releases
        )

    feed.settle(unwrapped(model))
    updates = UpdateCheck(unwrapped(model))
    schedule = _schedule(optimizer, training, steps_per_epoch=len(loader))
    losses: list[float] = []
    epoch_seconds: list[float] = []
    for epoch in range(training.epochs):
        began = time.perf_counter()
        total, count = 0.0, 0
        with physical_batches(loader, optimizer, training.privacy) as batches:
            bar = tqdm(
                batches,
                desc=f"train epoch {epoch + 1}/{training.epochs}",
                unit="batch",
                disable=not show_progress,
                leave=True,
            )
            for *inputs, batch_labels in bar:
                if len(batch_labels) == 0:  # Poisson sampling can draw an empty batch: a noise-only DP step
                    empty_step(optimizer)
                    schedule.step()
                    continue
                try:
                    loss = _per_example_mean(criterion, feed.logits(model, inputs), batch_labels)
                    with hook_notice_silenced():
                        loss.backward()
                except NotImplementedError as exc:  # e.g. tied parameters under ghost clipping
                    raise ModelError(f"training.privacy: Opacus cannot train this model: {exc}") from exc
                moving = all(group["lr"] > 0 for group in optimizer.param_groups)  # warm-up starts at rate 0
                optimizer.step()
                # Within a logical batch Opacus only accumulates clipped gradients; the rate follows real steps.
                if not getattr(optimizer, "_is_last_step_skipped", False):
                    schedule.step()
                    if moving:
                        updates.after_step(unwrapped(model))
                optimizer.zero_grad(set_to_none=True)
                total += loss.item() * len(batch_labels)
                count += len(batch_labels)
                bar.set_postfix(loss=f"{total / count:.4f}")
        losses.append(round(total / max(count, 1), 6))
        epoch_seconds.append(round(time.perf_counter() - began, 2))

    updates.at_end(unwrapped(model))
    model = standard(model)
    if isinstance(feed, PooledFeed):
        feed.fold(model)
    model.eval()
    privacy = None
    if engine is not None and training.privacy is not None and randomness is not None:
        privacy = privacy_record(
            engine,
            optimizer,
            loader,
            training,
            training.privacy,
            dataset_size=len(dataset),
            randomness=randomness,
            releases=releases,
            outside=list(feed.fitted_on_rows),
        )
    return Trained(model, losses, epoch_seconds, privacy)


@dataclass(frozen=True)
class Trained:
    """What the loop returns: the plain model in eval mode, loss and wall time per epoch, the DP record."""

    model: Any
    epoch_losses: list[float]
    epoch_seconds: list[float]
    privacy: PrivacyRecord | None


def _optimizer(groups: list[dict[str, Any]], training: TrainingSpec) -> torch.optim.Optimizer:
    """AdamW or SGD with momentum over the feed's parameter groups."""
    import torch

    if training.optimizer == "sgd":
        return torch.optim.SGD(groups, momentum=0.9, weight_decay=training.weight_decay)
    return torch.optim.AdamW(groups, weight_decay=training.weight_decay)


def _schedule(optimizer: Any, training: TrainingSpec, *, steps_per_epoch: int) -> Any:
    """Linear warm-up then linear decay, the usual schedule for fine-tuning BERT-style encoders."""
    from transformers import get_linear_schedule_with_warmup

    total = max(1, steps_per_epoch * training.epochs)
    return get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=int(training.warmup_ratio * total), num_training_steps=total
    )


def _statistics(
    feed: Feed, rows: np.ndarray, labels: torch.Tensor, training: TrainingSpec, randomness: DPRandomness | None
) -> tuple[torch.Tensor | None, Feed, list[Release]]:
    """Class weights and the centred feed from statistics of the training rows: exact without DP, released
    with the Gaussian mechanism under DP (and composed in the same accountant as the training steps)."""
    privacy, releases = training.privacy, []
    counts = labels.bincount(minlength=2).float()
    needs_counts = training.class_weight == "balanced" or training.centre_features
    if privacy is not None and randomness is not None and needs_counts:
        counts, release = noisy_label_counts(labels, privacy, randomness)
        releases.append(release)
    # Inverse-frequency weights n / (2 n_c), so the minority class is learned.
    weights = counts.sum() / (2 * counts.clamp(min=1)) if training.class_weight == "balanced" else None
    if training.centre_features:
        if not isinstance(feed, PooledFeed):
            raise ModelError(
                "training.centre_features: needs head-only training (train_layers: 0, train_embeddings: false) "
                "of a BERT-style text model with a pooler"
            )
        vectors = feed.inputs(rows)[0]
        centre = vectors.mean(dim=0)
        if privacy is not None and randomness is not None:
            centre, release = noisy_mean(vectors, float(counts.sum()), privacy, randomness)
            releases.append(release)
        feed = replace(feed, centre=centre, scale=training.feature_scale)
    return weights, feed, releases


def _per_example_mean(criterion: Any, logits: torch.Tensor, labels: torch.Tensor) -> Any:
    """Mean over the batch of per-example (class-weighted) losses, not PyTorch's weight-normalised mean;
    Opacus's ghost-clipping criterion takes per-example losses and means them itself."""
    import torch

    if isinstance(criterion, torch.nn.CrossEntropyLoss):
        return torch.nn.functional.cross_entropy(logits, labels, weight=criterion.weight, reduction="none").mean()
    return criterion(logits, labels)
