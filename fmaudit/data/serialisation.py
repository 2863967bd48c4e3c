"""Serialisation: rows rendered through the spec's template, and where each field's value lies in the text.

``serialise`` renders one row (a dict, as ``DataFrame.to_dict("records")`` gives it); ``serialise_rows`` renders
a table a field at a time to exactly the same texts and spans; ``LazySerialisation`` does so a block of rows at
a time when a row is first read, so that only models and plugins that read text pay for it.
"""

from __future__ import annotations

import dataclasses
import operator
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar, overload

import numpy as np
import pandas as pd

from fmaudit.core.errors import DataError

TEMPLATE_TEXT = "(template text)"
"""Where a character lies in the template's own words, not in any field's value."""


@dataclass(frozen=True)
class Serialised:
    """A row rendered through the template, with the character span of each field's value."""

    text: str
    spans: dict[str, tuple[int, int]]


def template_fields(template: str) -> list[str]:
    """The column names a template refers to, in order of first use."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise DataError(f"data.template: not a valid format string: {exc}") from exc
    fields: list[str] = []
    for _, field, _, _ in parsed:
        if field is None:
            continue
        if not field or not field.isidentifier():
            raise DataError(f"data.template: field {{{field}}} must name a column")
        if field not in fields:
            fields.append(field)
    return fields


def field_of_token(start: int, end: int, spans: dict[str, tuple[int, int]]) -> str:
    """The template field whose value holds characters [start, end), else the template's own text."""
    for field, (lo, hi) in spans.items():
        if start < hi and end > lo:
            return field
    return TEMPLATE_TEXT


def serialise(row: dict[str, object], template: str) -> Serialised:
    """Fill the template from one row, recording where each field's value landed."""
    parts: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    position = 0
    for literal, field, format_spec, conversion in string.Formatter().parse(template):
        parts.append(literal)
        position += len(literal)
        if field is None:
            continue
        rendered = render(row[field], conversion, format_spec)
        spans.setdefault(field, (position, position + len(rendered)))
        parts.append(rendered)
        position += len(rendered)
    return Serialised(text="".join(parts), spans=spans)


def render(value: object, conversion: str | None, format_spec: str | None) -> str:
    """One field's value as the template writes it: ``!r`` or ``!s`` first (``!a`` is ignored), then the spec."""
    if conversion == "r":
        value = repr(value)
    elif conversion == "s":
        value = str(value)
    return format(value, format_spec or "")


RENDER_ERRORS = (ValueError, TypeError, OverflowError)
"""What ``format`` raises when a format spec does not fit a value (``{amount:.1f}`` on text, say)."""
BLOCK_ROWS = 65_536
"""Rows serialised together when one of them is first read: a tabular run's one example text costs a block, a
text model's training set each block once."""
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class FieldSpans(Sequence[dict[str, tuple[int, int]]]):
    """Each row's field spans, as ``serialise`` records them, kept as two rows × fields arrays: a row's dict is
    built when it is asked for, not a million of them up front."""

    fields: tuple[str, ...]
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, row: int) -> dict[str, tuple[int, int]]: ...

    @overload
    def __getitem__(self, row: slice) -> list[dict[str, tuple[int, int]]]: ...

    def __getitem__(self, row: int | slice) -> dict[str, tuple[int, int]] | list[dict[str, tuple[int, int]]]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        return dict(zip(self.fields, zip(self.starts[row].tolist(), self.ends[row].tolist(), strict=True), strict=True))

    def __iter__(self) -> Iterator[dict[str, tuple[int, int]]]:
        return (self[i] for i in range(len(self)))


@dataclass(frozen=True)
class SerialisedRows:
    """Every row of a table rendered through the template: its text and where each field's value lies in it."""

    texts: list[str]
    spans: FieldSpans


@dataclass(eq=False)
class LazySerialisation:
    """A table's rows through the template, serialised a block of rows at a time when one of them is first
    read; ``texts`` and ``spans`` read like lists of them."""

    frame: pd.DataFrame
    template: str
    block_rows: int = BLOCK_ROWS
    rows: int = dataclasses.field(init=False)
    _blocks: dict[int, SerialisedRows] = dataclasses.field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rows = len(self.frame)

    @property
    def texts(self) -> RowView[str]:
        return RowView(self, lambda block, place: block.texts[place])

    @property
    def spans(self) -> RowView[dict[str, tuple[int, int]]]:
        return RowView(self, lambda block, place: block.spans[place])

    @property
    def rows_serialised(self) -> int:
        """How many rows have been serialised so far: none for a tabular run or ``fmaudit validate``."""
        return sum(len(block.texts) for block in self._blocks.values())

    def block(self, index: int) -> SerialisedRows:
        """Rows ``index * block_rows`` onwards, serialised now unless they have been."""
        if index not in self._blocks:
            first = index * self.block_rows
            self._blocks[index] = serialise_rows(self.frame.iloc[first : first + self.block_rows], self.template)
        return self._blocks[index]

    def locate(self, row: int) -> tuple[SerialisedRows, int]:
        """The serialised block holding ``row`` and the row's place in it."""
        if not -self.rows <= row < self.rows:
            raise IndexError(f"row {row} is not a row of this table of {self.rows}")
        index, place = divmod(row % self.rows, self.block_rows)
        return self.block(index), place


@dataclass(frozen=True, eq=False)
class RowView(Sequence[T]):
    """The texts or the spans of a lazily serialised table, by row."""

    table: LazySerialisation
    pick: Callable[[SerialisedRows, int], T]

    def __len__(self) -> int:
        return self.table.rows

    @overload
    def __getitem__(self, row: int) -> T: ...

    @overload
    def __getitem__(self, row: slice) -> list[T]: ...

    def __getitem__(self, row: int | slice) -> T | list[T]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        return self.pick(*self.table.locate(operator.index(row)))

    def __iter__(self) -> Iterator[T]:
        for index in range(0, self.table.rows, self.table.block_rows):
            block = self.table.block(index // self.table.block_rows)
            yield from (self.pick(block, place) for place in range(len(block.texts)))


def serialise_rows(frame: pd.DataFrame, template: str) -> SerialisedRows:
    """``serialise`` of every row of ``frame``, a template field at a time: each distinct value of a column is
    rendered once and placed by the rows' codes, then each row's pieces are joined once."""
    n = len(frame)
    pieces: list[list[str] | np.ndarray] = []
    position = np.zeros(n, dtype=np.int64)
    starts: dict[str, np.ndarray] = {}
    ends: dict[str, np.ndarray] = {}
    for literal, field, format_spec, conversion in string.Formatter().parse(template):
        if literal:
            pieces.append([literal] * n)
            position += len(literal)
        if field is None:
            continue
        rendered, lengths = _render_column(frame[field], field, conversion, format_spec)
        if field not in starts:
            starts[field], ends[field] = position.copy(), position + lengths
        pieces.append(rendered)
        position += lengths
    texts = list(map("".join, zip(*pieces, strict=True))) if pieces else [""] * n
    return SerialisedRows(texts=texts, spans=FieldSpans(tuple(starts), _by_field(starts, n), _by_field(ends, n)))


def check_template(frame: pd.DataFrame, template: str) -> None:
    """Every format spec and conversion of the template must fit its column: each is tried on one value of each
    kind the column holds (each Python type, and a missing value), so ``validate`` catches ``{purpose:.1f}``
    without serialising a row. Name every field that does not fit."""
    problems = []
    for _, field, format_spec, conversion in string.Formatter().parse(template):
        if field is None or not (format_spec or conversion):
            continue
        column = frame[field]
        for value in _values(column, _one_row_per_kind(column)):
            try:
                render(value, conversion, format_spec)
            except RENDER_ERRORS as exc:
                problems.append(_cannot_render(field, conversion, format_spec, value, exc))
                break
    if problems:
        raise DataError("\n".join(problems))


def _render_column(
    column: pd.Series, field: str, conversion: str | None, format_spec: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """A column rendered as the template writes it, with each row's length: each distinct value once."""
    codes, representatives = _distinct(column)
    texts = []
    for value in _values(column, representatives):
        try:
            texts.append(render(value, conversion, format_spec))
        except RENDER_ERRORS as exc:
            raise DataError(_cannot_render(field, conversion, format_spec, value, exc)) from exc
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return np.asarray(texts, dtype=object)[codes], lengths[codes]


def _distinct(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code and the first row of each code, where rows share a code only if ``serialise`` is given
    the same value for them: NumPy floats by their bits (0.0 and -0.0 hash alike but print apart), an object
    column's values only when all are of one exact type (``1``, ``1.0`` and ``True`` hash alike), and a missing
    object value (None or NaN) alone; other floats (nullable, Arrow) row by row."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize in (4, 8):
        codes, _ = pd.factorize(column.to_numpy().view(f"i{dtype.itemsize}"))
    elif dtype.kind in "fc":
        codes = np.arange(len(column))
    elif pd.api.types.is_object_dtype(dtype):
        values = column.to_numpy()
        missing = pd.isna(values)
        kinds = set(map(type, values[~missing]))
        if len(kinds) > 1 or not kinds <= {str, int, bool}:
            codes = np.arange(len(values))
        else:
            codes, found = pd.factorize(values)
            codes[missing] = len(found) + np.arange(int(missing.sum()))
    else:  # one dtype has one missing value (NaN, None, NaT), and its equal values print alike
        codes, _ = pd.factorize(column, use_na_sentinel=False)
    return codes, _first_rows(codes)


def _by_field(offsets: dict[str, np.ndarray], rows: int) -> np.ndarray:
    """Each field's offsets as one column of a rows × fields array (int32: a text is far shorter than 2**31)."""
    return np.column_stack(list(offsets.values())).astype(np.int32) if offsets else np.zeros((rows, 0), np.int32)


def _one_row_per_kind(column: pd.Series) -> np.ndarray:
    """The first row of each kind of value in a column: each Python type (an object column's may differ), and
    the first missing value."""
    if pd.api.types.is_object_dtype(column.dtype):
        kinds = np.fromiter(map(type, column.to_numpy()), dtype=object, count=len(column))
        return _first_rows(pd.factorize(kinds)[0])
    return _first_rows(column.isna().to_numpy())


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """The position of the first row of each distinct code, in the order of the codes."""
    first = pd.Series(codes).drop_duplicates()
    return first.index.to_numpy()[np.argsort(first.to_numpy(), kind="stable")]


def _values(column: pd.Series, rows: np.ndarray) -> list[object]:
    """The values at ``rows`` as ``serialise`` receives them: through ``DataFrame.to_dict("records")``, which
    turns NumPy scalars into Python ones and pandas' NA into None."""
    return [record["value"] for record in column.iloc[rows].to_frame(name="value").to_dict("records")]


def _cannot_render(field: str, conversion: str | None, format_spec: str | None, value: object, exc: Exception) -> str:
    """The problem line for a value that a template field cannot write, naming the field as the template does."""
    written = "{" + field + (f"!{conversion}" if conversion else "") + (f":{format_spec}" if format_spec else "") + "}"
    return (
        f"data.template: {written} cannot write a value of column {field!r}, {value!r} ({type(value).__name__}): {exc}"
    )
