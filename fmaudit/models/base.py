"""What every audited model offers the audits (``Classifier``), whichever runner built it, and the row and record
scoring every tabular model shares (``FrameClassifier``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from fmaudit.data import PreparedData


class Classifier(Protocol):
    """What plugins may ask of any audited model (text or tabular): P(favourable) for rows."""

    @property
    def kind(self) -> str:
        """'text' or 'tabular', as in the spec's ``model.kind``."""
        ...

    def predict_rows(self, data: PreparedData, rows: np.ndarray, *, progress: Any = None) -> np.ndarray:
        """P(favourable) for the given rows of the prepared data."""
        ...

    def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray:
        """P(favourable) for raw rows (column -> value), e.g. with one value changed; a text model reads
        them serialised through ``template``."""
        ...

    def save(self, directory: Path) -> None:
        """Write the weights as ``model.safetensors`` (hashed for provenance) and whatever reloading needs."""
        ...


class FrameClassifier:
    """``predict_rows`` and ``predict_records`` of a tabular model, through its ``predict_frame`` (P(favourable)
    for a DataFrame holding its ``input_columns``): fmaudit's MLP and models trained elsewhere score alike."""

    @property
    def input_columns(self) -> Sequence[str]:
        """The columns ``predict_frame`` reads."""
        raise NotImplementedError

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """P(favourable) (float64) for each row of a frame holding at least ``input_columns``."""
        raise NotImplementedError

    def predict_rows(self, data: PreparedData, rows: np.ndarray, *, progress: Any = None) -> np.ndarray:
        """P(favourable) for the given rows of the prepared data."""
        scores = self.predict_frame(data.frame.iloc[rows])
        if progress is not None:
            progress.update(len(rows))
        return scores

    def predict_records(self, records: Sequence[Mapping[str, object]], *, template: str) -> np.ndarray:
        """P(favourable) for raw rows; the template is a text model's concern and is not used."""
        import pandas as pd

        return self.predict_frame(pd.DataFrame(list(records), columns=list(self.input_columns)))
