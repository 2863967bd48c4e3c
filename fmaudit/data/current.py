"""New data scored after deployment (``fmaudit monitor``), prepared through the audited run's data spec: the same
columns, template, label mapping and sensitive groups, so each figure reads as it did in the audit.

A value the run never saw (a new category, a sensitive value its map or bins do not cover) is kept and listed, not
refused: seeing it is what monitoring is for. What would make the figures meaningless is refused, all at once,
each problem naming the file and the column: a missing or extra column, text where the run had numbers, a label
value the label mapping does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fmaudit.core.errors import DataError
from fmaudit.data.groups import UNKNOWN_GROUP, derive_group, intersection_groups, intersection_name
from fmaudit.data.preparation import PreparedData, is_numeric, read_table
from fmaudit.data.serialisation import check_template, template_fields
from fmaudit.spec import DataSpec, SensitiveSpec

KEY = "current data"
"""What messages about the current file name it by (it is a command-line argument, not a spec key)."""


@dataclass(frozen=True)
class Unseen:
    """Values of one column the run's data never held, and how many current rows hold them."""

    column: str
    values: tuple[str, ...]
    rows: int


@dataclass(frozen=True)
class CurrentData:
    """The current rows as the audit's stages read them (every row is a scored row: ``test_idx`` is all of them),
    whether they carry labels, and what they hold that the run never saw."""

    data: PreparedData
    labelled: bool
    unseen: tuple[Unseen, ...]


def prepare_current(spec: DataSpec, path: Path, *, reference: PreparedData) -> CurrentData:
    """Read ``path`` and prepare it like ``reference`` (the run's data, prepared from ``spec``); a DataError (exit
    2) listing every column problem at once."""
    frame = read_table(path, key=KEY)
    _check_columns(frame, reference.frame, spec=spec, path=path)
    frame = frame[[c for c in reference.frame.columns if c in frame.columns]].reset_index(drop=True)
    check_template(frame, spec.template)
    watched = dict.fromkeys([*template_fields(spec.template), *(s.column for s in spec.sensitive.values())])
    unseen = tuple(
        found
        for column in watched
        if not is_numeric(reference.frame[column])
        and (found := _unseen(frame[column], reference.frame[column], column)) is not None
    )
    labelled = spec.label in frame.columns
    labels = _labels(frame[spec.label], reference.frame[spec.label], spec, path) if labelled else None
    sensitive = pd.DataFrame({name: _group(frame[s.column], s, name) for name, s in spec.sensitive.items()})
    for combo in spec.intersections:
        sensitive[intersection_name(combo)] = intersection_groups(sensitive, combo)
    data = PreparedData(
        frame=frame,
        template=spec.template,
        labels=labels if labels is not None else np.zeros(len(frame), dtype=np.int64),
        sensitive=sensitive,
        source_path=path,
        feature_columns=reference.feature_columns,
        split=reference.split,
        ids=frame.index.astype(str).to_numpy(),
        trained_rows=np.empty(0, dtype=np.int64),  # nothing here trained the model: every row is scored
    )
    return CurrentData(data, labelled, unseen)


def _check_columns(frame: pd.DataFrame, reference: pd.DataFrame, *, spec: DataSpec, path: Path) -> None:
    """The run's columns (the label may be absent), no others, and numbers where the run had numbers."""
    columns = [str(c) for c in frame.columns]
    problems = [
        f"{KEY}: {path}: column {c!r} is missing (the run's data has it)"
        for c in reference.columns
        if c not in columns and c != spec.label
    ]
    problems += [
        f"{KEY}: {path}: column {c!r} is not a column of the run's data" for c in columns if c not in reference
    ]
    for column in reference.columns:
        if column in columns and is_numeric(reference[column]) and not _numbers(frame[column]):
            example = frame[column][pd.to_numeric(frame[column], errors="coerce").isna() & frame[column].notna()]
            problems.append(
                f"{KEY}: {path}: column {column!r} holds text (e.g. {example.iloc[0]!r}) where the run's data holds "
                "numbers"
            )
    if problems:
        raise DataError("\n".join(problems))


def _numbers(column: pd.Series) -> bool:
    """Numeric, or wholly missing (a column of blanks reads as text but holds no value to disagree)."""
    return is_numeric(column) or bool(column.isna().all())


def _unseen(current: pd.Series, reference: pd.Series, column: str) -> Unseen | None:
    known = set(reference.dropna().astype(str))
    values = current.dropna().astype(str)
    new = ~values.isin(known)
    if not new.any():
        return None
    return Unseen(column, tuple(sorted(values[new].unique())), int(new.sum()))


def _labels(current: pd.Series, reference: pd.Series, spec: DataSpec, path: Path) -> np.ndarray:
    """1 where the label is favourable, as the run mapped it; a value the run never had is refused (the mapping
    does not say what it means)."""
    values = current.astype(str)
    known = set(reference.astype(str))
    problems = []
    if current.isna().any():
        problems.append(
            f"{KEY}: {path}: column {spec.label!r} (the label) has {int(current.isna().sum())} missing values"
        )
    strange = sorted(set(values[current.notna()]) - known)
    if strange:
        problems.append(
            f"{KEY}: {path}: column {spec.label!r} (the label) holds {strange[:5]}, which the run's labels "
            f"({sorted(known)}) do not; drop the column to monitor without labels"
        )
    if problems:
        raise DataError("\n".join(problems))
    return values.isin(spec.favourable_values).to_numpy(dtype=np.int64)


def _group(current: pd.Series, spec: SensitiveSpec, name: str) -> pd.Series:
    """The sensitive groups as the run derived them; a value its map or bins do not cover (listed as unseen)
    falls in the unknown group rather than failing."""
    values = current
    if spec.map is not None:
        values = current.where(current.astype("string").isin(list(spec.map)))
    elif spec.bins is not None:
        numbers = pd.to_numeric(current, errors="coerce")
        values = numbers.where((numbers >= spec.bins[0]) & (numbers < spec.bins[-1]))
    if values.isna().all():  # derive_group refuses a column without values; here it is one unknown group
        return pd.Series(UNKNOWN_GROUP, index=current.index, name=name)
    return derive_group(values, spec, name=name)
