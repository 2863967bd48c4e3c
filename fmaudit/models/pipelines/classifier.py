"""A tabular model trained elsewhere, as the audits see it: P(favourable) from the data's columns through
the file's own scoring function, with no gradients (explanations use perturbation methods only)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from fmaudit.core.errors import ModelError
from fmaudit.models.base import FrameClassifier

PipelineFormat = Literal["skops", "onnx"]
CHECK_ROWS = 8
"""Rows scored by ``check`` to find, before any work, a column the model cannot read."""


@dataclass(frozen=True)
class PipelineClassifier(FrameClassifier):
    """A scikit-learn / XGBoost / LightGBM model read from a skops file, or any model read from an ONNX file."""

    source: Path
    """The file it was loaded from (hashed for the manifest, copied by ``save``)."""
    format: PipelineFormat
    columns: tuple[str, ...]
    """The input columns the model reads, in the order it reads them."""
    classes: tuple[str, ...]
    """Its output classes as text, in the order of its probability columns."""
    favourable: tuple[str, ...]
    """Which of ``classes`` are favourable: P(favourable) is the sum of their probabilities."""
    score: Callable[[pd.DataFrame], np.ndarray]
    """P(favourable) for a frame holding at least ``columns``."""
    description: str
    """What the file holds, e.g. ``Pipeline (skops)``."""
    kind: str = field(default="tabular", init=False)

    @property
    def input_columns(self) -> tuple[str, ...]:
        return self.columns

    @property
    def weight_files(self) -> tuple[Path, ...]:
        """The files that identify the model (the manifest hashes them)."""
        return (self.source,)

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """P(favourable) (float64) for each row of ``frame``; a failure of the model's own code is a
        ``ModelError`` naming the file."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ModelError(f"{self.source}: the model reads columns the rows do not hold: {missing}")
        try:
            scores = self.score(frame)
        except ModelError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as exc:
            raise ModelError(f"{self.source}: the {self.format} model failed to score rows: {exc}") from exc
        return np.asarray(scores, dtype=np.float64)

    def check(self, frame: pd.DataFrame) -> None:
        """Score the first rows of the data so that a column the model cannot read (a category where it expects
        a number, a missing value it cannot take) fails now, naming the file, not in the middle of an audit."""
        self.predict_frame(frame.head(CHECK_ROWS))

    def save(self, directory: Path) -> None:
        """Copy the source file into ``directory``. A model trained elsewhere is never stored in fmaudit's
        cache: this only satisfies the ``Classifier`` protocol, e.g. for a run that keeps its model."""
        shutil.copy2(self.source, directory / self.source.name)
