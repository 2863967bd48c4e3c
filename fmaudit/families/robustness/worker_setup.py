"""What an attack worker does before it receives the built attacks. Light (no TextAttack import), so that a
fresh Ray actor can run it first: unpickling the attacks imports TextAttack, which needs the offline setup."""

from __future__ import annotations

import os
from pathlib import Path


def prepare_worker(nltk_dir: Path | None = None) -> None:
    """One torch thread per worker; offline TextAttack (with NLTK data in ``nltk_dir``) in a fresh process."""
    import torch

    if nltk_dir is not None:
        from fmaudit.core.offline import prepare_textattack

        prepare_textattack(nltk_dir)
    torch.set_num_threads(1)
    # TextAttack sets TOKENIZERS_PARALLELISM=True at import, which keeps the tokenizer's thread pool on
    # after fork, where its threads no longer exist.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
