"""Runs whose audited model is in a model cache, without training: an untrained model (a random MLP, the tiny
BERT, the tiny BERT with a random LoRA adapter) stored as a run stores it, and the synthetic run's outputs
written around it with its weights' hash and cache key. What ``fmaudit export`` reads, in seconds."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from fmaudit.core.provenance import sha256_dir, sha256_file, sha256_json
from fmaudit.data import PreparedData, template_fields
from fmaudit.models.base import Classifier
from fmaudit.report.write import OutputOptions, write_report
from fmaudit.spec import Spec
from fmaudit.training.cache import store_model
from tests.support.specs import GERMAN_CREDIT_SPEC
from tests.support.synthetic_run import synthetic_inputs

MAX_LENGTH = 32
"""The text models' truncation: shorter than German Credit's serialised rows, so truncating matters."""


@dataclass(frozen=True)
class CachedRun:
    """A run directory, the cache holding its audited model, that model, and the data it scores."""

    run_dir: Path
    cache_dir: Path
    classifier: Any
    data: PreparedData
    weights_sha256: str


def cached_run(
    root: Path,
    build: Callable[[PreparedData], Classifier],
    *,
    model: dict[str, Any],
    training: dict[str, Any],
    base: Path | None = None,
    formats: tuple[str, ...] = ("model-card",),
    monitor: dict[str, Any] | None = None,
) -> CachedRun:
    """Store the classifier ``build`` makes (from the run's data) in ``root/cache`` as the audited model of a run
    written to ``root/reports`` (its provenance hashing the data file as a run does; ``monitor``: the spec's
    monitor section)."""
    raw = copy.deepcopy(GERMAN_CREDIT_SPEC)
    raw["model"], raw["training"] = model, training
    if monitor is not None:
        raw["monitor"] = monitor
    inputs = synthetic_inputs()
    classifier = build(inputs["data"])
    key = sha256_json([str(root), model, training])[:32]
    record = replace(
        inputs["record"],
        cache_key=key,
        base_model=str(base) if base else "tabular MLP",
        base_model_dir=str(base) if base else "",
        base_model_sha256=sha256_dir(base) if base else "a" * 64,
        pooling=_pooling(classifier),
    )
    cache_dir = root / "cache"
    (cache_dir / "models").mkdir(parents=True, exist_ok=True)
    record = store_model(classifier, record, cache_dir / "models" / key)
    run_dir = write_report(
        root / "reports",
        **{
            **inputs,
            "spec": Spec.model_validate(raw),
            "record": record,
            "provenance": replace(
                inputs["provenance"],
                weights_sha256=record.weights_sha256,
                data_sha256=sha256_file(inputs["data"].source_path),
            ),
        },
        options=OutputOptions(formats),
    )
    return CachedRun(run_dir, cache_dir, classifier, inputs["data"], record.weights_sha256)


def _pooling(classifier: Classifier) -> str:
    from fmaudit.models.pooling import describe

    return describe(classifier.model) if classifier.kind == "text" else ""  # type: ignore[attr-defined]


def random_mlp(data: PreparedData) -> Any:
    """An untrained MLP over the spec's template columns, encoded as the tabular runner encodes them."""
    import torch

    from fmaudit.models.tabular import TabularClassifier, TabularEncoder, build_mlp

    columns = template_fields(GERMAN_CREDIT_SPEC["data"]["template"])
    encoder = TabularEncoder.fit(data.frame.iloc[data.train_idx][columns])
    torch.manual_seed(0)
    return TabularClassifier(build_mlp(len(encoder.feature_columns), [8]), encoder, hidden=[8])


def tiny_classifier(base: Path, *, pooling: str = "model", adapter: dict[str, Any] | None = None) -> Any:
    """The tiny BERT as a text classifier; with ``adapter``, LoRA injected and its updates made non-zero (a
    fresh adapter is the identity, which would make a merged model equal its base)."""
    import torch

    from fmaudit.models.adapters import apply_adapter
    from fmaudit.models.text import TextClassifier, load_pretrained
    from fmaudit.spec import AdapterSpec

    model, tokenizer = load_pretrained(base, pooling=pooling)  # type: ignore[arg-type]
    spec = AdapterSpec.model_validate(adapter) if adapter is not None else None
    if spec is not None:
        apply_adapter(model, spec)
        torch.manual_seed(1)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_B" in name:
                    param.copy_(torch.randn_like(param))
    return TextClassifier(model, tokenizer, max_length=MAX_LENGTH, adapter=spec)


def sample_texts(run: CachedRun, n: int = 12) -> list[str]:
    """Test-split texts, longer than ``MAX_LENGTH`` tokens."""
    return [run.data.texts[int(i)] for i in np.asarray(run.data.test_idx)[:n]]


def hub_scores(model: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    """P(class 1) as a plain transformers user scores: tokenised with truncation, softmax of the logits."""
    import torch

    with torch.inference_mode():
        batch = tokenizer(texts, truncation=True, padding=True, return_tensors="pt")
        return torch.softmax(model(**batch).logits, dim=-1)[:, 1].numpy()
