"""Serialisation: a row rendered through the spec's template, and where each field's value lies in the text."""

from __future__ import annotations

import string
from dataclasses import dataclass

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
        value = row[field]
        if conversion == "r":
            value = repr(value)
        elif conversion == "s":
            value = str(value)
        rendered = format(value, format_spec or "")
        spans.setdefault(field, (position, position + len(rendered)))
        parts.append(rendered)
        position += len(rendered)
    return Serialised(text="".join(parts), spans=spans)
