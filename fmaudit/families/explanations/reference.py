"""The reference applicant attributions are measured against, after Regulation B's
second method (12 CFR 1002.9(b)(2), comment 9(b)(2)-5): compare each applicant with
the average of approved applicants, or of applicants at or just above the decision
threshold. Numeric fields take the average (rounded for whole-number columns),
categorical fields the most frequent value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Basis = Literal["approved", "threshold", "all"]
BASIS_TEXT: dict[str, str] = {
    "approved": "the average approved applicant",
    "threshold": "the average applicant at or just above the decision threshold",
    "all": "the average applicant",
}


@dataclass(frozen=True)
class ReferenceApplicant:
    """One typical applicant (field -> value) and how it was chosen."""

    record: dict[str, object]
    basis: Basis
    rows: int
    """How many applicants it averages."""
    note: str = ""

    def describe(self) -> str:
        return f"{BASIS_TEXT[self.basis]} of the test split ({self.rows} applicants){self.note}"


def reference_applicant(
    frame: pd.DataFrame, scores: np.ndarray, *, threshold: float, basis: Basis, band: float
) -> ReferenceApplicant:
    """The typical applicant of ``frame`` (one row per score) among the approved, those in the lowest ``band``
    share of approved scores, or everyone; everyone when no applicant is approved (said in the note)."""
    approved = np.flatnonzero(scores >= threshold)
    note = ""
    if basis == "all":
        pool = np.arange(len(scores))
    elif len(approved) == 0:
        pool, note = np.arange(len(scores)), "; no applicant was approved, so every applicant was averaged"
    elif basis == "approved":
        pool = approved
    else:
        lowest = approved[np.argsort(scores[approved], kind="stable")]
        pool = lowest[: max(1, math.ceil(band * len(lowest)))]
    chosen = frame.iloc[pool]
    record = {column: typical_value(chosen[column]) for column in frame.columns}
    return ReferenceApplicant(record=record, basis=basis, rows=len(pool), note=note)


def typical_value(values: pd.Series) -> object:
    """The mean of a numeric column (a whole number for integer columns), else its most frequent value."""
    present = values.dropna()
    if present.empty:
        return values.iloc[0] if len(values) else None
    if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        mean = float(present.mean())
        return round(mean) if present.dtype.kind in "iu" else mean
    counts = present.astype(str).value_counts()
    top = counts[counts == counts.max()].index
    return min(top)  # ties broken by name, so the reference does not depend on row order
