"""The content-addressed model cache: a trained model is stored under a hash of everything that determines
its weights, so a second run (or another model of the same run) loads it instead of training again."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fmaudit.core.provenance import sha256_file, sha256_json
from fmaudit.spec import DataSpec, TrainingSpec
from fmaudit.training.records import TrainingRecord

if TYPE_CHECKING:

    from fmaudit.models.base import Classifier


CACHE_FORMAT = 8
"""Bump when the training code changes what a given key would produce."""

NOT_IN_CACHE_KEY: dict[str, bool | set[str]] = {
    "seed_replicas": True,
    "privacy": {"compare", "sweep", "allow_large_delta", "settings_chosen_on"},
}
"""Settings that choose which models a run audits, not what any one model's weights are."""

RECORD_FILE = "training.json"


def cache_key(
    *,
    base_model_sha256: str,
    data_spec: DataSpec,
    data_sha256: str,
    training: TrainingSpec,
    rows_sha256: str = "",
    pooling: str = "model",
) -> str:
    """Content hash of everything that determines the fine-tuned weights (the classifier's own pooling is
    left out of it, so models cached before pooling was a choice are still found)."""
    return sha256_json(
        {
            "format": CACHE_FORMAT,
            "base": base_model_sha256,
            "data": data_sha256,
            "data_spec": data_spec.model_dump(mode="json", exclude={"sensitive", "intersections", "id"}),
            "training": _training_settings(training),
            **({"rows": rows_sha256} if rows_sha256 else {}),
            **({"pooling": pooling} if pooling != "model" else {}),
        }
    )[:32]


def _training_settings(training: TrainingSpec) -> dict[str, object]:
    """The settings that shape the weights; a key absent from the spec (no adapter) leaves the key as it was
    before that setting existed, so models cached then are still found."""
    settings = training.model_dump(mode="json", exclude=NOT_IN_CACHE_KEY)
    if settings["adapter"] is None:
        del settings["adapter"]
    return settings


def store_model(classifier: Classifier, record: TrainingRecord, directory: Path) -> TrainingRecord:
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


def load_cached(directory: Path, load: Callable[[Path], Classifier]) -> tuple[Classifier, TrainingRecord] | None:
    """The cached model and its record, or None when absent or unreadable (then it is trained again)."""
    try:
        record = TrainingRecord.from_json(json.loads((directory / RECORD_FILE).read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return load(directory), replace(record, from_cache=True)
