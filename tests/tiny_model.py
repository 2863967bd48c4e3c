"""A tiny random-init BERT built with MiniLM's vocabulary: a real local model directory for fast tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from fmaudit.models.text import BUNDLED_MINILM, resolve_base_model

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def build_tiny_bert(directory: Path, *, seed: int = 0, initializer_range: float = 0.02) -> Path:
    """Save a 2-layer, 32-wide BERT classifier and MiniLM's tokenizer into ``directory``.

    A larger ``initializer_range`` makes the random model's scores depend on its input (for attacks).
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    minilm = resolve_base_model(BUNDLED_MINILM, base_dir=Path.cwd())
    vocab_size = sum(1 for _ in (minilm / "vocab.txt").open(encoding="utf-8"))
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        num_labels=2,
        initializer_range=initializer_range,
    )
    directory.mkdir(parents=True, exist_ok=True)
    BertForSequenceClassification(config).save_pretrained(directory, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (minilm / name).is_file():
            shutil.copy(minilm / name, directory / name)
    return directory
