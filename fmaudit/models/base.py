"""What every audited model offers the audits (``Classifier``), whichever runner built it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from fmaudit.data import PreparedData


class Classifier(Protocol):
    """What plugins may ask of any audited model (text or tabular): P(favourable) for rows."""

    kind: str
    """'text' or 'tabular', as in the spec's ``model.kind``."""

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
