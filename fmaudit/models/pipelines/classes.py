"""Which of a model's output classes are favourable: its class labels compared, as text, with the data's
favourable label values (``data.positive``), the way the data stage compares the label column."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fmaudit.core.errors import ModelError


def label_text(value: object) -> str:
    """A class label as the text the data's label values are compared as (``DataSpec.favourable_values``):
    numpy scalars as their Python value, booleans lower-case, bytes decoded."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return str(value).lower() if isinstance(value, bool) else str(value)


def favourable_indices(
    classes: Sequence[object], *, favourable: Sequence[str], labels: Sequence[str], source: Path
) -> tuple[int, ...]:
    """The positions, among the model's ``classes`` (its probability columns, in order), of the favourable
    values: P(favourable) is the sum of those columns. ``labels`` are the data's label values as text; when
    given, the model must know exactly those classes (a three-class model cannot score a binary decision)."""
    texts = [label_text(c) for c in classes]
    listed = ", ".join(map(repr, texts))
    if len(set(texts)) != len(texts):
        raise ModelError(f"{source}: the model's classes ({listed}) repeat a label once compared as text")
    if labels and set(texts) != set(labels):
        unknown = sorted(set(texts) - set(labels))
        absent = sorted(set(labels) - set(texts))
        parts = [f"classes the data's label column does not hold: {unknown}"] if unknown else []
        parts += [f"label values the model does not know: {absent}"] if absent else []
        raise ModelError(
            f"{source}: the model's classes ({listed}) are not the data's label values ({sorted(labels)}); "
            + "; ".join(parts)
        )
    chosen = tuple(k for k, text in enumerate(texts) if text in favourable)
    if not chosen:
        raise ModelError(
            f"{source}: none of the model's classes ({listed}) is a favourable value of data.positive "
            f"({', '.join(map(repr, favourable))}); the labels are compared as text"
        )
    if len(chosen) == len(texts):
        raise ModelError(f"{source}: every class of the model ({listed}) is favourable; its score would be 1")
    return chosen
