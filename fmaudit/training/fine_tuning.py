"""Runner stage: the audited model (a text classifier fine-tuned from a pretrained encoder, or a tabular
MLP) trained through the one loop, with or without DP-SGD, or loaded from the model cache."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmaudit.core.provenance import sha256_dir, sha256_json
from fmaudit.data import PreparedData, template_fields
from fmaudit.models.adapters import apply_adapter
from fmaudit.models.base import Classifier
from fmaudit.models.encodings import namespace, open_cache
from fmaudit.models.pooling import Pooling, resolve_pooling
from fmaudit.models.pooling import describe as describe_pooling
from fmaudit.models.tabular import TabularClassifier, TabularEncoder, build_mlp
from fmaudit.models.text import TextClassifier, load_pretrained, pooled_head, resolve_base_model
from fmaudit.spec import DataSpec, ModelSpec, TrainingSpec
from fmaudit.training.cache import cache_key, load_cached, store_model
from fmaudit.training.feeds import Feed, PooledFeed, TabularFeed, TextFeed
from fmaudit.training.freeze import freeze
from fmaudit.training.loop import train
from fmaudit.training.records import Origin, TrainingRecord


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
    pooling: Pooling = "model"
    if model_spec.kind == "tabular":
        architecture = model_spec.model_dump(mode="json", exclude={"base", "task"}) | {
            "hidden": model_spec.hidden_sizes
        }
        origin = Origin(model_spec.describe(), "", sha256_json(architecture))
        load: Callable[[Path], Classifier] = TabularClassifier.load
    else:
        model_dir = resolve_base_model(model_spec.base_model, base_dir=base_dir, cache_dir=cache_dir)
        origin = Origin(model_spec.base_model, str(model_dir), sha256_dir(model_dir))
        pooling = resolve_pooling(model_spec.pooling, model_dir)
        load = functools.partial(TextClassifier.load, max_length=training.max_length, base=model_dir, pooling=pooling)
    subset = rows is not None
    rows = np.sort(np.asarray(data.train_idx if rows is None else rows, dtype=np.int64))
    rows_sha = sha256_json(rows.tolist())
    key = cache_key(
        base_model_sha256=origin.sha256,
        data_spec=data_spec,
        data_sha256=data_sha256,
        training=training,
        rows_sha256=rows_sha if subset else "",
        pooling=pooling,
    )
    hit = load_cached(cache_dir / key, load)
    if hit is not None:
        if isinstance(hit[0], TextClassifier) and head_only(training):
            share_encodings(hit[0], origin, pooling=pooling, cache_dir=cache_dir)
        return hit

    import torch

    torch.manual_seed(training.seed)  # new layers are initialised from torch's global RNG
    started = time.perf_counter()
    if model_spec.kind == "tabular":
        built = _tabular_model(model_spec, data, data_spec)
    else:
        built = _text_model(
            origin, data, training, pooling=pooling, cache_dir=cache_dir, show_progress=show_progress
        )
    trained = train(built.trainee, built.feed, data=data, rows=rows, training=training, show_progress=show_progress)
    classifier = built.wrap(trained.model)
    model = built.model
    record = TrainingRecord(
        base_model=origin.name,
        base_model_dir=origin.directory,
        base_model_sha256=origin.sha256,
        cache_key=key,
        weights_sha256="",
        seconds=round(time.perf_counter() - started, 2),
        epoch_losses=trained.epoch_losses,
        epoch_seconds=trained.epoch_seconds,
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_parameters=sum(p.numel() for p in model.parameters()),
        trained_modules=built.trained_modules,
        settings=training.model_dump(mode="json"),
        training_rows=len(rows),
        rows_sha256=rows_sha,
        privacy=trained.privacy,
        pooling=built.pooling,
    )
    return classifier, store_model(classifier, record, cache_dir / key)


@dataclass(frozen=True)
class Built:
    """A fresh model, the part of it the loop trains (often all of it) with its feed, the names of the
    modules that train, and how to wrap the trained model as a classifier."""

    model: Any
    trainee: Any
    feed: Feed
    trained_modules: list[str]
    wrap: Callable[[Any], Classifier]
    pooling: str = ""


def _text_model(
    origin: Origin,
    data: PreparedData,
    training: TrainingSpec,
    *,
    pooling: Pooling = "model",
    cache_dir: Path,
    show_progress: bool,
) -> Built:
    """The pretrained encoder or decoder with a new classifier head, frozen as the spec says or with a LoRA
    adapter injected (the base then stays frozen)."""
    model, tokenizer = load_pretrained(Path(origin.directory), pooling=pooling)
    adapter = training.adapter
    trained_modules = freeze(model, training) if adapter is None else apply_adapter(model, adapter)
    classifier = TextClassifier(model, tokenizer, max_length=training.max_length, adapter=training.adapter)
    head = pooled_head(model) if head_only(training) else None  # shares the parameters: training it trains the model
    how = describe_pooling(model)
    if head is None:
        return Built(model, model, TextFeed(tokenizer, data, training), trained_modules, lambda _: classifier, how)
    import torch
    from tqdm.auto import tqdm

    share_encodings(classifier, origin, pooling=pooling, cache_dir=cache_dir)
    assert classifier.encodings is not None
    rows = np.asarray(data.train_idx)
    texts = [data.texts[i] for i in rows]
    with tqdm(total=len(rows), desc="encode (frozen)", unit="row", disable=not show_progress) as bar:
        vectors = classifier.encodings.vectors(
            texts, lambda batch: _counted(classifier.pooled(batch), bar), batch_size=classifier.batch_size
        )
    pooled = {int(i): torch.from_numpy(vector.copy()) for i, vector in zip(rows, vectors, strict=True)}
    return Built(model, head, PooledFeed(pooled), trained_modules, lambda _: classifier, how)


def head_only(training: TrainingSpec) -> bool:
    """Whether nothing below the classifier head trains (the encoder stays as pretrained)."""
    return training.train_layers == 0 and not training.train_embeddings and training.adapter is None


def share_encodings(classifier: TextClassifier, origin: Origin, *, pooling: Pooling, cache_dir: Path) -> None:
    """Score a head-only classifier from its encoder's shared cache of pooled vectors, when its architecture
    has a plain head over the pooled output (decoders do not)."""
    if pooled_head(classifier.model) is None:
        return
    name = namespace(origin.sha256, pooling=pooling, max_length=classifier.max_length)
    classifier.use_encodings(open_cache(cache_dir / "encoded" / name))


def _counted(vectors: np.ndarray, bar: Any) -> np.ndarray:
    bar.update(len(vectors))
    return vectors


def _tabular_model(model_spec: ModelSpec, data: PreparedData, data_spec: DataSpec) -> Built:
    """The tabular runner: the template's columns encoded (fitted on the training split only) and an MLP."""
    encoder = TabularEncoder.fit(data.frame.iloc[data.train_idx][template_fields(data_spec.template)])
    widths = [len(encoder.feature_columns), *model_spec.hidden_sizes, 2]
    model = build_mlp(widths[0], model_spec.hidden_sizes)

    def wrap(trained: Any) -> Classifier:
        return TabularClassifier(trained, encoder, hidden=model_spec.hidden_sizes)

    trained = [f"MLP {' → '.join(map(str, widths))} (every layer, from random initialisation)"]
    return Built(model, model, TabularFeed(encoder, data), trained, wrap)
