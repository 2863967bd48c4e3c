"""A text classifier trained elsewhere: a Hugging Face ``AutoModelForSequenceClassification`` directory, or a
PEFT adapter directory over a base model, loaded offline from safetensors only and audited as it is.

Pickled weights (``pytorch_model.bin``) are refused: unpickling runs whatever code the file names. Which of
the two outputs means "favourable" comes from ``config.id2label`` or the spec, checked against the data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fmaudit.core.errors import ModelError
from fmaudit.core.offline import enforce_offline
from fmaudit.models.hub import exported_architecture, labels
from fmaudit.models.pooling import resolve_pooling
from fmaudit.models.text import (
    TextClassifier,
    load_pretrained,
    quiet_transformers,
    resolve_base_model,
    set_padding,
)
from fmaudit.spec import SourceSpec
from fmaudit.spec.sections import DEFAULT_SOURCE_LENGTH

PICKLE_WEIGHTS = ("pytorch_model.bin", "adapter_model.bin", "tf_model.h5", "flax_model.msgpack")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "tokenizer.model", "spiece.model")
ADAPTER_CONFIG = "adapter_config.json"
GENERIC_LABEL = "LABEL_"
"""How transformers names outputs when the trainer gave no id2label: LABEL_0, LABEL_1."""


def load_classifier_dir(
    source: SourceSpec, directory: Path, *, favourable_values: Sequence[str], base_dir: Path, cache_dir: Path
) -> tuple[TextClassifier, tuple[Path, ...]]:
    """The classifier in ``directory`` (format huggingface or peft) and the weight files that identify it."""
    key = "model.source.path"
    if not directory.is_dir():
        raise ModelError(f"{key}: {directory} is not a directory (a {source.format} source is a model directory)")
    if source.format == "peft":
        return _load_adapter(
            source, directory, favourable_values=favourable_values, base_dir=base_dir, cache_dir=cache_dir
        )
    weights = _safetensors(directory, stem="model")
    if not (directory / "config.json").is_file():
        raise ModelError(f"{key}: {directory} has no config.json; not a Hugging Face model directory")
    _need_tokenizer(directory, key)
    config = _read_json(directory / "config.json")
    labels = _id2label(config, directory / "config.json")
    favourable = favourable_output(labels, source.favourable_label, favourable_values)
    wrapped = exported_architecture(config)
    if wrapped is None:
        model, tokenizer = load_pretrained(directory, pooling=resolve_pooling("auto", directory))
    else:  # fmaudit's own mean-pooling export: the architecture it wraps, pooled as audited, no remote code run
        from transformers import CONFIG_MAPPING

        settings = {k: v for k, v in config.items() if k not in ("model_type", "auto_map", "architectures")}
        model, tokenizer = load_pretrained(directory, pooling="mean", config=CONFIG_MAPPING[wrapped](**settings))
    classifier = TextClassifier(model, tokenizer, max_length=_length(source, tokenizer), favourable_index=favourable)
    return classifier, weights


def _length(source: SourceSpec, tokenizer: Any) -> int:
    """Tokens read per row: the spec's, else the tokenizer's own limit when it is a real one (unset, transformers
    puts a huge number there), else the default."""
    if source.max_length is not None:
        return source.max_length
    limit = int(getattr(tokenizer, "model_max_length", 0) or 0)
    return limit if 0 < limit <= DEFAULT_SOURCE_LENGTH * 4 else DEFAULT_SOURCE_LENGTH


def _load_adapter(
    source: SourceSpec, directory: Path, *, favourable_values: Sequence[str], base_dir: Path, cache_dir: Path
) -> tuple[TextClassifier, tuple[Path, ...]]:
    """A LoRA (or other PEFT) adapter on its base model, merged into it so every plugin sees a plain model."""
    key = "model.source.path"
    config_file = directory / ADAPTER_CONFIG
    if not config_file.is_file():
        raise ModelError(f"{key}: {directory} has no {ADAPTER_CONFIG}; not a PEFT adapter directory")
    weights = _safetensors(directory, stem="adapter_model")
    config = _read_json(config_file)
    base_name = source.base or config.get("base_model_name_or_path")
    if not base_name:
        raise ModelError(f"model.source.base: {config_file} names no base model; give model.source.base")
    base = resolve_base_model(str(base_name), base_dir=base_dir, cache_dir=cache_dir)
    # The adapter trained a new head: the base's output names (if any) describe a head it replaced.
    favourable = favourable_output({}, source.favourable_label, favourable_values)
    enforce_offline()
    from peft import PeftModel
    from transformers import AutoTokenizer

    model, tokenizer = load_pretrained(base, pooling="model")
    try:
        with quiet_transformers():
            merged = PeftModel.from_pretrained(model, directory, is_trainable=False).merge_and_unload()
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"{key}: cannot apply the adapter in {directory} to {base}: {exc}") from exc
    if any((directory / name).is_file() for name in TOKENIZER_FILES):  # the adapter's own tokenizer, else the base's
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        set_padding(merged, tokenizer)
    classifier = TextClassifier(merged, tokenizer, max_length=_length(source, tokenizer), favourable_index=favourable)
    return classifier, weights


def _safetensors(directory: Path, *, stem: str) -> tuple[Path, ...]:
    """The safetensors weight files (one, or the shards an index lists); pickled weights are refused."""
    files = tuple(sorted(directory.glob(f"{stem}*.safetensors")))
    if files:
        return files
    pickled = [name for name in PICKLE_WEIGHTS if (directory / name).is_file()]
    if pickled:
        loader = "PeftModel" if "adapter" in stem else "AutoModelForSequenceClassification"
        raise ModelError(
            f"model.source.path: {directory / pickled[0]} is a pickle, and loading a pickle runs whatever code it "
            f"names; fmaudit reads safetensors only. Convert it once, on a machine you trust: load it with "
            f"{loader}.from_pretrained and call save_pretrained(DIR, safe_serialization=True)"
        )
    raise ModelError(f"model.source.path: {directory} holds no {stem}.safetensors weights")


def _need_tokenizer(directory: Path, key: str) -> None:
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise ModelError(
            f"{key}: {directory} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}); save it beside the model "
            "with tokenizer.save_pretrained(DIR)"
        )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"model.source.path: cannot read {path}: {exc}") from exc
    if not isinstance(value, dict):
        raise ModelError(f"model.source.path: {path} is not a JSON object")
    return value


def _id2label(config: dict[str, Any], config_file: Path) -> dict[int, str]:
    """The classifier's output names by index; a classifier with other than two outputs is refused."""
    labels = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
    count = len(labels) or int(config.get("num_labels", 2))
    if count != 2:
        raise ModelError(
            f"model.source.path: {config_file} describes a classifier with {count} outputs "
            f"({', '.join(labels.values()) or 'no names'}); fmaudit audits binary decisions (two outputs)"
        )
    return labels


def favourable_output(
    id2label: dict[int, str], declared: str | int | None, favourable_values: Sequence[str]
) -> int:
    """Which output (0 or 1) means the favourable outcome: the declared one (an index or an id2label name), else
    the one whose name is a favourable value of the data's label; names that say nothing must be declared."""
    names = [id2label.get(i, f"{GENERIC_LABEL}{i}") for i in (0, 1)]
    if isinstance(declared, int):
        if declared not in (0, 1):
            raise ModelError(f"model.source.favourable_label: an output index is 0 or 1; got {declared}")
        return declared
    if declared is not None:
        if declared not in names:
            raise ModelError(f"model.source.favourable_label: {declared!r} is not an output; config.id2label: {names}")
        return names.index(declared)
    matches = [i for i, name in enumerate(names) if name in favourable_values]
    if len(matches) == 1:
        return matches[0]
    if any(names == list(labels(value).values()) for value in favourable_values):
        return 1  # named by fmaudit export: "favourable (good)" is output 1

    if all(name.startswith(GENERIC_LABEL) for name in names):
        raise ModelError(
            f"model.source.favourable_label: the model's outputs are named {names}, which does not say which one "
            "is favourable; declare it (0 or 1)"
        )
    raise ModelError(
        f"model.source.favourable_label: config.id2label names the outputs {names}, and "
        f"{'both' if matches else 'neither'} match data.positive ({list(favourable_values)}); declare which output "
        "is favourable (0, 1 or its name)"
    )
