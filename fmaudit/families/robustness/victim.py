"""The attacked model as TextAttack sees it, made as fast as the model allows without changing it.

Attack time is model time. TextAttack's stock ``HuggingFaceModelWrapper`` pads every query to the
tokenizer's ``model_max_length`` (512 for MiniLM); here each batch is padded to its longest text,
scored under ``torch.inference_mode``, and every distinct text is scored once per process (an exact
memo: the same string always gets the same probabilities), across examples and recipes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from textattack.models.wrappers import ModelWrapper

if TYPE_CHECKING:
    from fmaudit.models.text import TextClassifier


class Victim(ModelWrapper):  # type: ignore[misc]
    """Class probabilities of the fine-tuned classifier, memoised per text."""

    def __init__(self, classifier: TextClassifier) -> None:
        self.model = classifier.model  # TextAttack checks the model's class against the goal function
        self.classifier = classifier
        self.memo: dict[str, np.ndarray] = {}

    def __call__(self, text_input_list: Sequence[str]) -> np.ndarray:
        import torch

        texts = list(text_input_list)
        missing = list(dict.fromkeys(t for t in texts if t not in self.memo))
        size = self.classifier.batch_size
        for start in range(0, len(missing), size):
            batch = missing[start : start + size]
            probabilities = torch.softmax(self.classifier.logits(batch), dim=-1).numpy()
            self.memo.update(zip(batch, probabilities, strict=True))
        return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, 2), dtype=np.float32)
