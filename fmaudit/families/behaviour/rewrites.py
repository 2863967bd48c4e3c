"""Rewritings of one application that say the same thing: another case, another number format, the
fields in another order. Each returns edited raw rows and, where the wording around the values changes,
an edited template; nothing here scores.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

SEPARATORS = ("; ", ", ", "\n", ". ", " | ")
"""What may end one field's phrase in a template, tried in this order."""


@dataclass(frozen=True)
class Piece:
    """One field of a template with the words around it: ``prefix{field}suffix``."""

    prefix: str
    placeholder: str
    suffix: str


def _placeholder(field: str, format_spec: str | None, conversion: str | None) -> str:
    return "{" + field + (f"!{conversion}" if conversion else "") + (f":{format_spec}" if format_spec else "") + "}"


def _escape(literal: str) -> str:
    return literal.replace("{", "{{").replace("}", "}}")


def map_literals(template: str, change: Callable[[str], str]) -> str:
    """The template with ``change`` applied to its own words, the placeholders kept."""
    parts = []
    for literal, field, format_spec, conversion in string.Formatter().parse(template):
        parts.append(_escape(change(literal)))
        if field is not None:
            parts.append(_placeholder(field, format_spec, conversion))
    return "".join(parts)


def field_pieces(template: str) -> tuple[list[Piece], str] | None:
    """The template cut into one piece per field and the separator between pieces, or None when the words
    between two fields hold no separator (then the field order cannot be changed without guessing)."""
    parsed = [p for p in string.Formatter().parse(template)]
    fields = [(literal, _placeholder(f, spec, conv)) for literal, f, spec, conv in parsed if f is not None]
    tail = parsed[-1][0] if parsed and parsed[-1][1] is None else ""
    if len(fields) < 2:
        return None
    cuts: list[tuple[str, str, str]] = []  # words between consecutive fields: (suffix, separator, prefix)
    for literal, _ in fields[1:]:
        found = next(((literal.rindex(s), s) for s in SEPARATORS if s in literal), None)
        if found is None:
            return None
        at, separator = found
        cuts.append((literal[:at], separator, literal[at + len(separator) :]))
    separator = Counter(c[1] for c in cuts).most_common(1)[0][0]
    prefixes = [fields[0][0]] + [c[2] for c in cuts]
    suffixes = [c[0] for c in cuts] + [tail]
    pieces = [Piece(p, ph, s) for p, (_, ph), s in zip(prefixes, fields, suffixes, strict=True)]
    return pieces, separator


def permuted_templates(template: str, *, count: int, rng: np.random.Generator) -> list[str]:
    """Up to ``count`` distinct templates listing the same fields, with their words, in other orders."""
    cut = field_pieces(template)
    if cut is None or count == 0:
        return []
    pieces, separator = cut
    seen = {tuple(range(len(pieces)))}
    found: list[str] = []
    for _ in range(count * 20):
        order = tuple(int(i) for i in rng.permutation(len(pieces)))
        if order in seen:
            continue
        seen.add(order)
        found.append(separator.join(pieces[i].prefix + pieces[i].placeholder + pieces[i].suffix for i in order))
        if len(found) == count:
            break
    return found


def upper_case_text(record: dict[str, object], template: str) -> tuple[dict[str, object], str]:
    """The whole application in capitals: the template's words and every text value."""
    return {k: v.upper() if isinstance(v, str) else v for k, v in record.items()}, map_literals(template, str.upper)


def title_case_values(record: dict[str, object], template: str) -> tuple[dict[str, object], str]:
    """Every text value in title case ('radio/television' -> 'Radio/Television'), the template unchanged."""
    return {k: v.title() if isinstance(v, str) else v for k, v in record.items()}, template


CASE_VARIANTS: dict[str, Callable[[dict[str, object], str], tuple[dict[str, object], str]]] = {
    "upper-case text": upper_case_text,
    "title-case values": title_case_values,
}

_INTEGRAL = re.compile(r"^-?\d+$")


def thousands_separator(value: object) -> str | None:
    """'1169' -> '1,169'; None when the number has no thousands to separate."""
    text = str(value)
    if not _INTEGRAL.match(text) or abs(int(text)) < 1000:
        return None
    return f"{int(text):,}"


def decimal_point(value: object) -> str | None:
    """'24' -> '24.0'; None for values that are not whole numbers."""
    text = str(value)
    return f"{text}.0" if _INTEGRAL.match(text) else None


NUMBER_VARIANTS: dict[str, Callable[[object], str | None]] = {
    "thousands separator": thousands_separator,
    "decimal point": decimal_point,
}


def rewrite_numbers(
    record: dict[str, object], fields: Sequence[str], write: Callable[[object], str | None]
) -> dict[str, object] | None:
    """The record with every numeric field rewritten by ``write``; None when nothing changes."""
    changed = {f: write(record[f]) for f in fields}
    changed = {f: text for f, text in changed.items() if text is not None}
    return {**record, **changed} if changed else None
