"""A fine-tuned text classifier's Hugging Face directory made to score outside fmaudit as it was audited.

fmaudit saves with ``save_pretrained``, so the files already load with transformers; three things would still
differ: the labels are anonymous (``LABEL_1``), the tokenizer does not truncate (or pad) as the audit did, and a
mean-pooling model would silently pool with BERT's pooler. The last is shipped as remote code, so a plain
load refuses it until ``trust_remote_code=True`` is given instead of scoring with another pooling.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fmaudit.models.pooling import Pooling

CONFIG_FILE = "config.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
POOLING_CODE = "mean_pooling.py"
REMOTE_CODE = "modeling_fmaudit.py"

MEAN_POOLED_TYPE = "fmaudit-mean-pooled-{model_type}"
"""config.json's ``model_type`` for a mean-pooling model: one transformers does not know, so a load without
``trust_remote_code=True`` fails instead of falling back to the architecture's own pooler."""

_MEAN_POOLED = '''"""{architecture} with masked mean pooling, as fmaudit audited it (trust_remote_code=True)."""

from transformers import {architecture}, {config_class}

from .mean_pooling import use_mean_pooling


class MeanPooled{config_class}({config_class}):
    model_type = "{model_type}"


class MeanPooled{architecture}({architecture}):
    config_class = MeanPooled{config_class}

    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        use_mean_pooling(self)
'''


def exported_architecture(config: dict[str, object]) -> str | None:
    """The model type a mean-pooling export wraps (``bert`` for ``fmaudit-mean-pooled-bert``), or None for a
    directory that is not one: what lets fmaudit audit its own export without running the remote code."""
    model_type = str(config.get("model_type", ""))
    prefix = MEAN_POOLED_TYPE.format(model_type="")
    return model_type.removeprefix(prefix) if model_type.startswith(prefix) else None


def labels(favourable: str) -> dict[int, str]:
    """Class names for config.json's ``id2label``: class 1 is the favourable decision (``data.positive``)."""
    return {0: f"unfavourable (not {favourable})", 1: f"favourable ({favourable})"}


def finish_hub_directory(directory: Path, *, favourable: str, max_length: int, pooling: Pooling) -> None:
    """Name the classes, make the tokenizer truncate at the audited ``max_length`` and, for a mean-pooling
    model, add the remote code that pools so."""
    config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    names = labels(favourable)
    config["id2label"] = {str(index): name for index, name in names.items()}
    config["label2id"] = {name: index for index, name in names.items()}
    if pooling == "mean":
        _ship_mean_pooling(directory, config)
    _write_json(directory / CONFIG_FILE, config)
    tokenize_as_audited(directory, max_length)


def tokenize_as_audited(directory: Path, max_length: int) -> None:
    """The tokenizer's ``model_max_length`` set to the audit's, so ``truncation=True`` cuts where it did, and
    its padding on the right, where the audit put it (``fmaudit.models.text``)."""
    tokenizer = directory / TOKENIZER_CONFIG_FILE
    if tokenizer.is_file():
        settings = json.loads(tokenizer.read_text(encoding="utf-8"))
        settings["model_max_length"] = max_length
        settings["padding_side"] = "right"
        _write_json(tokenizer, settings)


def _ship_mean_pooling(directory: Path, config: dict[str, object]) -> None:
    """Remote code that pools as audited (``mean_pooling.py`` as fmaudit runs it), under a model type of its own."""
    from transformers import CONFIG_MAPPING

    architectures = config["architectures"]
    assert isinstance(architectures, list) and isinstance(config["model_type"], str)  # save_pretrained writes both
    architecture, config_class = architectures[0], CONFIG_MAPPING[config["model_type"]].__name__
    model_type = MEAN_POOLED_TYPE.format(model_type=config["model_type"])
    module = REMOTE_CODE.removesuffix(".py")
    config["model_type"] = model_type
    config["architectures"] = [f"MeanPooled{architecture}"]
    config["auto_map"] = {
        "AutoConfig": f"{module}.MeanPooled{config_class}",
        "AutoModelForSequenceClassification": f"{module}.MeanPooled{architecture}",
    }
    shutil.copyfile(Path(__file__).with_name(POOLING_CODE), directory / POOLING_CODE)
    code = _MEAN_POOLED.format(architecture=architecture, config_class=config_class, model_type=model_type)
    (directory / REMOTE_CODE).write_text(code, encoding="utf-8")


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
