"""Data stage: load the table, derive sensitive groups, serialise rows to text, split.

Everything a later stage needs about the data is in one frozen ``PreparedData``; nothing downstream goes back to
the file. ``preparation`` loads and checks the table and holds the split, ``groups`` derives the sensitive groups
and their intersections, ``serialisation`` renders rows through the template.
"""

from fmaudit.data.groups import INTERSECTION_JOIN, UNKNOWN_GROUP, derive_group, intersection_name
from fmaudit.data.preparation import (
    PreparedData,
    field_values,
    is_numeric,
    prepare,
    resolve_source,
    rows_of_ids,
    with_trained_rows,
)
from fmaudit.data.serialisation import TEMPLATE_TEXT, Serialised, field_of_token, serialise, template_fields

__all__ = [
    "INTERSECTION_JOIN",
    "TEMPLATE_TEXT",
    "UNKNOWN_GROUP",
    "PreparedData",
    "Serialised",
    "derive_group",
    "field_of_token",
    "field_values",
    "intersection_name",
    "is_numeric",
    "prepare",
    "resolve_source",
    "rows_of_ids",
    "serialise",
    "template_fields",
    "with_trained_rows",
]
