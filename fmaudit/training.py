"""Runner stage: train the audited model (a text classifier fine-tuned from a pretrained
encoder, or a tabular MLP), with or without DP-SGD, in one loop.

DP-SGD goes through Opacus ``make_private_with_epsilon`` (Abadi et al. 2016):
per-example gradients are clipped and noised, and the noise multiplier is
calibrated so that training for the declared epochs reaches the target epsilon.
Trained models are cached on disk under a content hash of everything that
determines them, so a second run skips training.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from fmaudit.data import PreparedData
from fmaudit.errors import ModelError
from fmaudit.model import Classifier, TextClassifier, load_pretrained, resolve_base_model
from fmaudit.provenance import sha256_dir, sha256_file, sha256_json
from fmaudit.spec import DataSpec, ModelSpec, PrivacySpec, TrainingSpec

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

CACHE_FORMAT = 6
"""Bump when the training code changes what a given key would produce."""
NOT_IN_CACHE_KEY = {"privacy": {"compare", "sweep", "allow_large_delta"}}
"""Settings that choose which models a run audits, not what any one model's weights are."""
RECORD_FILE = "training.json"
ENCODER_LAYER_PATHS = ("encoder.layer", "transformer.layer", "layers", "h")


@dataclass(frozen=True)
class PrivacyRecord:
    """Everything a DP claim needs (Ponomareva et al. 2023, 'How to DP-fy ML')."""

    target_epsilon: float
    epsilon: float
    delta: float
    accountant: str
    noise_multiplier: float
    max_grad_norm: float
    sample_rate: float
    expected_batch_size: float
    dataset_size: int
    epochs: int
    steps: int
    poisson_sampling: bool
    secure_mode: bool
    max_physical_batch_size: int
    grad_sample_mode: str


@dataclass(frozen=True)
class TrainingRecord:
    """How the audited model came to be."""

    base_model: str
    base_model_dir: str
    base_model_sha256: str
    cache_key: str
    weights_sha256: str
    seconds: float
    epoch_losses: list[float]
    trainable_parameters: int
    total_parameters: int
    trained_modules: list[str]
    settings: dict[str, Any]
    training_rows: int
    rows_sha256: str
    """Hash of the training row ids: the split's train rows, or a subset (a membership-inference reference model)."""
    privacy: PrivacyRecord | None = None
    from_cache: bool = False
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TrainingRecord:
        privacy = raw.pop("privacy")
        return cls(**raw, privacy=PrivacyRecord(**privacy) if privacy else None)


def cache_key(
    *, base_model_sha256: str, data_spec: DataSpec, data_sha256: str, training: TrainingSpec, rows_sha256: str = ""
) -> str:
    """Content hash of everything that determines the fine-tuned weights."""
    return sha256_json(
        {
            "format": CACHE_FORMAT,
            "base": base_model_sha256,
            "data": data_sha256,
            "data_spec": data_spec.model_dump(mode="json", exclude={"sensitive", "intersections"}),
            "training": training.model_dump(mode="json", exclude=NOT_IN_CACHE_KEY),
            **({"rows": rows_sha256} if rows_sha256 else {}),
        }
    )[:32]


class Feed(Protocol):
    """How the one training loop feeds a kind of model: per-row input tensors, logits for a batch,
    optimizer parameter groups, and any module to settle (e.g. frozen layers to eval mode)."""

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]: ...

    def logits(self, model: Any, inputs: Sequence[torch.Tensor]) -> torch.Tensor: ...

    def parameter_groups(self, model: Any, training: TrainingSpec) -> list[dict[str, Any]]: ...

    def settle(self, model: Any) -> None: ...


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
        accepted = _forward_parameters(type(_unwrapped(model)).forward)
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
        _fix_frozen(model, self.training)


@dataclass(frozen=True)
class PooledFeed:
    """Head-only training of a BERT-style classifier: the frozen encoder's pooled output is computed once
    per row, so every epoch (and every DP step) runs the dropout + linear head alone, not the encoder.

    The same numbers as ``TextFeed`` up to float rounding: frozen layers run in eval mode there too.
    """

    pooled: dict[int, torch.Tensor]

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        import torch

        return (torch.stack([self.pooled[int(i)] for i in rows]),)

    def logits(self, model: Any, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return model(inputs[0])  # type: ignore[no-any-return]

    def parameter_groups(self, model: Any, training: TrainingSpec) -> list[dict[str, Any]]:
        return [{"params": list(model.parameters()), "lr": training.head_learning_rate or training.learning_rate}]

    def settle(self, model: Any) -> None:
        """Nothing is frozen inside the head."""


@dataclass(frozen=True)
class Origin:
    """Where a model starts from, recorded with it: a pretrained base (text) or an architecture (tabular)."""

    name: str
    directory: str
    sha256: str


def fine_tune(
    *,
    model_spec: ModelSpec,
    base_dir: Path,
    data: PreparedData,
    data_spec: DataSpec,
    data_sha256: str,
    training: TrainingSpec,
    cache_dir: Path,
    rows: np.ndarray | None = None,
    show_progress: bool = True,
) -> tuple[Classifier, TrainingRecord]:
    """Return the trained classifier (text or tabular), from the cache when an identical run made it before.

    ``rows`` (default: the split's training rows) lets a reference model train on a subset of them.
    """
    from fmaudit.tabular import TabularClassifier

    if model_spec.kind == "tabular":
        architecture = model_spec.model_dump(mode="json", exclude={"base", "task"}) | {
            "hidden": model_spec.hidden_sizes
        }
        origin = Origin(model_spec.describe(), "", sha256_json(architecture))
        load: Callable[[Path], Classifier] = TabularClassifier.load
    else:
        model_dir = resolve_base_model(model_spec.base_model, base_dir=base_dir)
        origin = Origin(model_spec.base_model, str(model_dir), sha256_dir(model_dir))
        load = functools.partial(TextClassifier.load, max_length=training.max_length)
    subset = rows is not None
    rows = np.sort(np.asarray(data.train_idx if rows is None else rows, dtype=np.int64))
    rows_sha = sha256_json(rows.tolist())
    key = cache_key(
        base_model_sha256=origin.sha256,
        data_spec=data_spec,
        data_sha256=data_sha256,
        training=training,
        rows_sha256=rows_sha if subset else "",
    )
    hit = _load_cached(cache_dir / key, load)
    if hit is not None:
        return hit

    import torch

    torch.manual_seed(training.seed)  # new layers are initialised from torch's global RNG
    started = time.perf_counter()
    if model_spec.kind == "tabular":
        built = _tabular_model(model_spec, data, data_spec)
    else:
        built = _text_model(origin, data, training, cache_dir=cache_dir, show_progress=show_progress)
    trainee, losses, privacy = _train(
        built.trainee, built.feed, data=data, rows=rows, training=training, show_progress=show_progress
    )
    classifier = built.wrap(trainee)
    model = built.model
    record = TrainingRecord(
        base_model=origin.name,
        base_model_dir=origin.directory,
        base_model_sha256=origin.sha256,
        cache_key=key,
        weights_sha256="",
        seconds=round(time.perf_counter() - started, 2),
        epoch_losses=losses,
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_parameters=sum(p.numel() for p in model.parameters()),
        trained_modules=built.trained_modules,
        settings=training.model_dump(mode="json"),
        training_rows=len(rows),
        rows_sha256=rows_sha,
        privacy=privacy,
    )
    return classifier, _store(classifier, record, cache_dir / key)


@dataclass(frozen=True)
class Built:
    """A fresh model, the part of it the loop trains (often all of it) with its feed, the names of the
    modules that train, and how to wrap the trained model as a classifier."""

    model: Any
    trainee: Any
    feed: Feed
    trained_modules: list[str]
    wrap: Callable[[Any], Classifier]


def _text_model(
    origin: Origin, data: PreparedData, training: TrainingSpec, *, cache_dir: Path, show_progress: bool
) -> Built:
    """The pretrained encoder with a new classifier head, frozen as the spec says."""
    model, tokenizer = load_pretrained(Path(origin.directory))
    trained_modules = _freeze(model, training)
    classifier = TextClassifier(model, tokenizer, max_length=training.max_length)
    head = _pooled_head(model, training)
    if head is None:
        return Built(model, model, TextFeed(tokenizer, data, training), trained_modules, lambda _: classifier)
    pooled = _pooled_outputs(classifier, data, origin, cache_dir=cache_dir, show_progress=show_progress)
    return Built(model, head, PooledFeed(pooled), trained_modules, lambda _: classifier)


def _pooled_head(model: Any, training: TrainingSpec) -> Any:
    """The dropout + linear head of a BERT-style classifier when nothing below it trains, else None."""
    import torch

    head_only = training.train_layers == 0 and not training.train_embeddings
    classifier, dropout = getattr(model, "classifier", None), getattr(model, "dropout", None)
    bert_style = getattr(model.base_model, "pooler", None) is not None
    if head_only and bert_style and isinstance(classifier, torch.nn.Linear) and isinstance(dropout, torch.nn.Dropout):
        return torch.nn.Sequential(dropout, classifier)  # shares the parameters: training it trains the model
    return None


def _pooled_outputs(
    classifier: TextClassifier, data: PreparedData, origin: Origin, *, cache_dir: Path, show_progress: bool
) -> dict[int, torch.Tensor]:
    """The frozen encoder's pooled output for every training row, cached on disk: the DP model, its twin
    and the reference models of one run (and later runs) share one pass over the encoder."""
    import torch
    from tqdm.auto import tqdm

    rows = np.asarray(data.train_idx)
    key = sha256_json([origin.sha256, classifier.max_length, [data.texts[i] for i in rows]])
    path = cache_dir / "pooled" / f"{key[:32]}.pt"
    if path.exists():
        return dict(torch.load(path))
    encoder, pooled = classifier.model.base_model.eval(), {}
    with tqdm(total=len(rows), desc="encode (frozen)", unit="row", disable=not show_progress) as bar:
        for start in range(0, len(rows), classifier.batch_size):
            batch = rows[start : start + classifier.batch_size]
            with torch.no_grad():  # not inference_mode: the head's backward will save these as inputs
                out = encoder(**classifier.encode([data.texts[i] for i in batch])).pooler_output
            pooled.update({int(i): vector.clone() for i, vector in zip(batch, out, strict=True)})
            bar.update(len(batch))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    torch.save(pooled, tmp)
    tmp.rename(path)
    return pooled


def _tabular_model(model_spec: ModelSpec, data: PreparedData, data_spec: DataSpec) -> Built:
    """The tabular runner: the template's columns encoded (fitted on the training split only) and an MLP."""
    from fmaudit.data import template_fields
    from fmaudit.tabular import TabularClassifier, TabularEncoder, TabularFeed, build_mlp

    encoder = TabularEncoder.fit(data.frame.iloc[data.train_idx][template_fields(data_spec.template)])
    widths = [len(encoder.feature_columns), *model_spec.hidden_sizes, 2]
    model = build_mlp(widths[0], model_spec.hidden_sizes)

    def wrap(trained: Any) -> Classifier:
        return TabularClassifier(trained, encoder, hidden=model_spec.hidden_sizes)

    trained = [f"MLP {' → '.join(map(str, widths))} (every layer, from random initialisation)"]
    return Built(model, model, TabularFeed(encoder, data), trained, wrap)


def _store(classifier: Classifier, record: TrainingRecord, directory: Path) -> TrainingRecord:
    """Save the model and its record under ``directory`` atomically; return the record with the weights' hash."""
    tmp = directory.with_name(f".{directory.name}.{os.getpid()}.partial")  # per process: two runs may race
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        classifier.save(tmp)
        record = replace(record, weights_sha256=sha256_file(tmp / "model.safetensors"))
        (tmp / RECORD_FILE).write_text(json.dumps(asdict(record), indent=2))
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return record


def _load_cached(directory: Path, load: Callable[[Path], Classifier]) -> tuple[Classifier, TrainingRecord] | None:
    """The cached model and its record, or None when absent or unreadable (then it is trained again)."""
    try:
        record = TrainingRecord.from_json(json.loads((directory / RECORD_FILE).read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return load(directory), replace(record, from_cache=True)


def _encoder_layers(model: PreTrainedModel) -> list[Any]:
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


def _freeze(model: PreTrainedModel, training: TrainingSpec) -> list[str]:
    """Freeze what the spec keeps fixed; return the names of the modules that train."""
    base = model.base_model
    if training.train_layers == "all":
        for param in model.parameters():
            param.requires_grad = True
        trained = ["all encoder layers"]
    else:
        for param in base.parameters():
            param.requires_grad = False
        layers = _encoder_layers(model)
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


def _fix_frozen(model: PreTrainedModel, training: TrainingSpec) -> None:
    """Run frozen layers in eval mode: as fixed feature extractors they should not apply dropout."""
    if training.train_layers != "all":
        layers = _encoder_layers(model)
        for layer in layers[: len(layers) - training.train_layers]:
            layer.eval()
    if not training.train_embeddings:
        getattr(model.base_model, "embeddings", model.get_input_embeddings()).eval()


def _optimizer(groups: list[dict[str, Any]], training: TrainingSpec) -> torch.optim.Optimizer:
    """AdamW or SGD with momentum over the feed's parameter groups."""
    import torch

    if training.optimizer == "sgd":
        return torch.optim.SGD(groups, momentum=0.9, weight_decay=training.weight_decay)
    return torch.optim.AdamW(groups, weight_decay=training.weight_decay)


def _train(
    model: Any,
    feed: Feed,
    *,
    data: PreparedData,
    rows: np.ndarray,
    training: TrainingSpec,
    show_progress: bool,
) -> tuple[Any, list[float], PrivacyRecord | None]:
    """The one training loop, private or not, for any kind of model; returns the unwrapped model in eval mode."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from tqdm.auto import tqdm

    torch.manual_seed(training.seed)
    labels = torch.as_tensor(data.labels[rows], dtype=torch.long)
    class_weights = _class_weights(labels, training)
    dataset = TensorDataset(*feed.inputs(rows), labels)
    loader = DataLoader(
        dataset, batch_size=training.batch_size, shuffle=True, generator=torch.Generator().manual_seed(training.seed)
    )
    model.train()  # from_pretrained returns eval mode, which Opacus refuses
    optimizer = _optimizer(feed.parameter_groups(model, training), training)
    # Mean of per-example losses, so Opacus's per-sample gradients scale with the batch size as it expects.
    criterion = torch.nn.CrossEntropyLoss(weight=class_weights, reduction="mean")
    engine = None
    if training.privacy is not None:
        model, optimizer, criterion, loader, engine = _make_private(
            model, optimizer, criterion, loader, training, training.privacy
        )

    feed.settle(_unwrapped(model))
    schedule = _schedule(optimizer, training, steps_per_epoch=len(loader))
    losses: list[float] = []
    for epoch in range(training.epochs):
        total, count = 0.0, 0
        with _physical_batches(loader, optimizer, training.privacy) as batches:
            bar = tqdm(
                batches,
                desc=f"train epoch {epoch + 1}/{training.epochs}",
                unit="batch",
                disable=not show_progress,
                leave=True,
            )
            for *inputs, batch_labels in bar:
                if len(batch_labels) == 0:  # Poisson sampling can draw an empty batch: a noise-only DP step
                    _empty_step(optimizer)
                    schedule.step()
                    continue
                try:
                    loss = _per_example_mean(criterion, feed.logits(model, inputs), batch_labels)
                    with _opacus_hook_notice_silenced():
                        loss.backward()
                except NotImplementedError as exc:  # e.g. tied parameters under ghost clipping
                    raise ModelError(f"training.privacy: Opacus cannot train this model: {exc}") from exc
                optimizer.step()
                # Within a logical batch Opacus only accumulates clipped gradients; the rate follows real steps.
                if not getattr(optimizer, "_is_last_step_skipped", False):
                    schedule.step()
                optimizer.zero_grad(set_to_none=True)
                total += loss.item() * len(batch_labels)
                count += len(batch_labels)
                bar.set_postfix(loss=f"{total / count:.4f}")
        losses.append(round(total / max(count, 1), 6))

    model = _standard(model)
    model.eval()
    privacy = None
    if engine is not None and training.privacy is not None:
        privacy = _privacy_record(engine, optimizer, loader, training, training.privacy, dataset_size=len(dataset))
    return model, losses, privacy


def _schedule(optimizer: Any, training: TrainingSpec, *, steps_per_epoch: int) -> Any:
    """Linear warm-up then linear decay, the usual schedule for fine-tuning BERT-style encoders."""
    from transformers import get_linear_schedule_with_warmup

    total = max(1, steps_per_epoch * training.epochs)
    return get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=int(training.warmup_ratio * total), num_training_steps=total
    )


def _class_weights(labels: torch.Tensor, training: TrainingSpec) -> torch.Tensor | None:
    """Inverse-frequency class weights (n / (2 * n_c)) when the spec asks for balanced training."""
    import torch

    if training.class_weight == "none":
        return None
    counts = torch.bincount(labels, minlength=2).clamp(min=1).float()
    return len(labels) / (2 * counts)


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


def _unwrapped(model: Any) -> Any:
    """The plain model inside Opacus's GradSampleModule, if wrapped (hooks stay on until ``_standard``)."""
    return getattr(model, "_module", model)


def _standard(model: Any) -> Any:
    """The plain model with Opacus's hooks and per-sample gradients removed, ready for inference and Captum."""
    return model.to_standard_module() if hasattr(model, "to_standard_module") else model


def _per_example_mean(criterion: Any, logits: torch.Tensor, labels: torch.Tensor) -> Any:
    """Mean over the batch of per-example (class-weighted) losses, not PyTorch's weight-normalised mean;
    Opacus's ghost-clipping criterion takes per-example losses and means them itself."""
    import torch

    if isinstance(criterion, torch.nn.CrossEntropyLoss):
        return torch.nn.functional.cross_entropy(logits, labels, weight=criterion.weight, reduction="none").mean()
    return criterion(logits, labels)


@contextlib.contextmanager
def _physical_batches(loader: Any, optimizer: Any, privacy: PrivacySpec | None) -> Iterator[Any]:
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


def _empty_step(optimizer: Any) -> None:
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


def _make_private(
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
def _secure_rng_notice_silenced() -> Iterator[None]:
    """Opacus warns that secure RNG is off (the DP statement records secure_mode instead) and, while
    calibrating the noise, that the optimal RDP order is at the edge of its grid (the epsilon reported
    is the accountant's own, computed after training)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
        yield


@contextlib.contextmanager
def _opacus_hook_notice_silenced() -> Iterator[None]:
    """With frozen embeddings no input requires grad, and torch notes that Opacus's full backward
    hooks then fire on module outputs: that is exactly what per-sample gradients need."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield


def _privacy_record(
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
