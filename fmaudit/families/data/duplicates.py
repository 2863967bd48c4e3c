"""Duplicates and the split: rows that repeat another exactly or after normalising whitespace and case, test rows
that repeat a training row (the same applicant on both sides of the split: the test then measures memory, not
generalisation), and test rows whose model input (serialised text, or the template's fields) equals a
training row's."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmaudit.families.data.audited import AuditedData

MISSING = "\x00missing"
"""A missing value's normalised text: equal to every other missing value, to no present one."""


@dataclass(frozen=True)
class Duplicates:
    exact: int
    """Rows that repeat an earlier row's audited columns exactly."""
    near: int
    """Further rows that repeat an earlier row once whitespace and case are normalised."""
    across_split: tuple[tuple[int, int], ...]
    """(test row, a training row it repeats, normalised), for every test row that repeats one."""
    input_across_split: int
    """Test rows whose model input equals a training row's."""


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text with surrounding whitespace removed, inner runs of whitespace made one space, lower case."""
    text = {
        column: frame[column].astype("string").str.strip().str.replace(r"\s+", " ", regex=True).str.lower()
        for column in frame.columns
    }
    return pd.DataFrame(text, index=frame.index).fillna(MISSING)


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of ``frame``'s values (collisions at a million rows: about 3e-8)."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def duplicates(audited: AuditedData) -> Duplicates:
    exact = int(audited.frame.duplicated().sum())
    keys = row_hashes(normalised(audited.frame))
    near = int(pd.Series(keys).duplicated().sum()) - exact
    first_training = pd.Series(audited.train, index=keys[audited.train])
    first_training = first_training[~first_training.index.duplicated()]
    test_keys = keys[audited.test]
    repeats = np.isin(test_keys, first_training.index)
    pairs = tuple(
        (int(row), int(first_training[key])) for row, key in zip(audited.test[repeats], test_keys[repeats], strict=True)
    )
    inputs = int(np.isin(audited.inputs[audited.test], audited.inputs[audited.train]).sum())
    return Duplicates(exact, near, pairs, inputs)
