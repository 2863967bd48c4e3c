"""Predictions handed over instead of a model: a file of row id -> P(favourable), for teams that can share only
what their model decided. The plugins that read only scores (performance, fairness, calibration) run on it;
anything that must score a changed row cannot, and planning says so.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fmaudit.core.errors import DataError, ModelError

if TYPE_CHECKING:
    from fmaudit.data import PreparedData

ROW_NUMBER = "row"
"""The id column of a scores (or training-rows) file when the data has no ``data.id``: row numbers from 0."""


class ScoresClassifier:
    """The scores a model gave the data's rows, looked up by row; it cannot score a row it was not given."""

    def __init__(self, kind: str, scores: np.ndarray, path: Path) -> None:
        self.kind = kind
        self.scores = scores
        """P(favourable) per data row; NaN where the file has no score for the row."""
        self.path = path

    def predict_rows(self, data: PreparedData, rows: np.ndarray, *, progress: Any = None) -> np.ndarray:
        """The file's scores for the given rows (every one must have a score)."""
        found = self.scores[rows]
        if np.isnan(found).any():
            missing = [str(data.ids[i]) if data.ids is not None else str(i) for i in rows[np.isnan(found)][:3]]
            raise ModelError(f"model.source.path: {self.path.name} has no score for row(s) {', '.join(missing)}")
        if progress is not None:
            progress.update(len(rows))
        return found.astype(np.float64)

    def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray:
        """A scores file holds no model: a row with a value changed has no score."""
        raise ModelError(
            "model.source: a scores file cannot score a changed row; this needs the model (format huggingface, "
            "peft, skops or onnx)"
        )

    def save(self, directory: Path) -> None:
        """A copy of the scores file (the predictions are the artifact)."""
        shutil.copy2(self.path, directory / self.path.name)


def load_scores(path: Path, data: PreparedData, *, id_column: str, score_column: str, kind: str) -> ScoresClassifier:
    """Read and check a scores file against the data: ids present, distinct and rows of the data; scores in
    [0, 1]; every test row scored (the error names what is wrong and where)."""
    key = "model.source.path"
    if not path.is_file():
        raise ModelError(f"{key}: file not found: {path}")
    suffix = path.suffix.lower()
    try:
        frame = pd.read_parquet(path) if suffix in {".parquet", ".pq"} else pd.read_csv(path, dtype={id_column: str})
    except Exception as exc:  # pandas raises many types; all mean "unreadable"
        raise ModelError(f"{key}: cannot read {path}: {exc}") from exc
    for column, what in ((id_column, "row ids"), (score_column, "scores")):
        if column not in frame.columns:
            raise ModelError(
                f"{key}: {path.name} has no column {column!r} ({what}); columns: {[str(c) for c in frame.columns]}"
            )
    ids = frame[id_column].astype(str)
    repeated = ids[ids.duplicated()].unique()
    if frame[id_column].isna().any() or len(repeated):
        example = f"e.g. {repeated[0]!r}" if len(repeated) else "some are missing"
        raise ModelError(f"{key}: {path.name}: column {id_column!r} must give each row one id ({example})")
    scores = pd.to_numeric(frame[score_column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(scores) | (scores < 0) | (scores > 1)
    if bad.any():
        first = frame[score_column].iloc[int(np.flatnonzero(bad)[0])]
        raise ModelError(
            f"model.source.score: {int(bad.sum())} value(s) of column {score_column!r} in {path.name} are missing or "
            f"outside [0, 1] (e.g. {first} for row {ids.iloc[int(np.flatnonzero(bad)[0])]!r}); scores are "
            "P(favourable)"
        )
    from fmaudit.data import rows_of_ids

    by_row = np.full(data.n_rows, np.nan)
    try:
        by_row[rows_of_ids(data, ids.tolist(), key=key, where=path)] = scores
    except DataError as exc:  # the file is the model's, not the data's: reported as the model source's problem
        raise ModelError(str(exc)) from exc
    unscored = np.flatnonzero(np.isnan(by_row[data.test_idx]))
    if len(unscored):
        assert data.ids is not None
        raise ModelError(
            f"{key}: {path.name} has no score for {len(unscored)} of the {len(data.test_idx)} test rows "
            f"(e.g. row id {data.ids[data.test_idx[unscored[0]]]!r}); the audit scores every test row"
        )
    return ScoresClassifier(kind, by_row, path)
