"""Counterfactual flips: does the decision change when only the sensitive attribute changes?

Each test row is scored again with its sensitive column set to a value typical
of another group (its most frequent raw value; the median for numeric columns):
a text model reads the row serialised again, a tabular model the changed column.
The share of decisions that flip and the mean score shift show whether the model
uses the attribute directly, which group rates alone cannot (Kusner et al. 2017
motivate the test; this is its observational form).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FlipExample:
    row: int
    from_group: str
    to_group: str
    original_value: str
    counterfactual_value: str
    score: float
    counterfactual_score: float


@dataclass(frozen=True)
class DirectionResult:
    from_group: str
    to_group: str
    pairs: int
    flips: int
    mean_shift: float


@dataclass(frozen=True)
class CounterfactualResult:
    attribute: str
    pairs: int
    flips: int
    flip_rate: float
    mean_shift: float
    mean_abs_shift: float
    directions: tuple[DirectionResult, ...]
    examples: tuple[FlipExample, ...]


def representative_values(raw: pd.Series, groups: pd.Series) -> dict[str, object]:
    """A raw value typical of each group: the median for numeric columns, else the most frequent value."""
    values: dict[str, object] = {}
    numeric = pd.api.types.is_numeric_dtype(raw)
    for group, members in raw.groupby(groups.to_numpy()):
        members = members.dropna()
        if members.empty:
            continue
        if numeric:
            median = float(members.median())
            values[str(group)] = round(median) if members.dtype.kind in "iu" else median
        else:
            values[str(group)] = members.value_counts().index[0]
    return values


def counterfactual_flips(
    *,
    attribute: str,
    column: str,
    frame: pd.DataFrame,
    groups: pd.Series,
    rows: np.ndarray,
    scores: np.ndarray,
    score_records: Callable[[Sequence[Mapping[str, object]]], np.ndarray],
    target_groups: Sequence[str],
    threshold: float = 0.5,
    examples: int = 3,
) -> CounterfactualResult:
    """Swap ``column`` to each other target group's typical value for every row in ``rows`` and re-score
    the changed raw rows with ``score_records``."""
    typical = representative_values(frame[column], groups)
    records = frame.iloc[rows].to_dict("records")
    pairs: list[tuple[int, str, str, object, float]] = []
    changed: list[dict[str, object]] = []
    for position, (row, record) in enumerate(zip(rows, records, strict=True)):
        own = str(groups.iloc[row])
        for target in target_groups:
            if target == own or target not in typical:
                continue
            changed.append({**record, column: typical[target]})
            pairs.append((int(row), own, target, record[column], float(scores[position])))
    new_scores = score_records(changed) if changed else np.zeros(0)
    before = np.array([p[4] for p in pairs])
    shift = new_scores - before
    flipped = (new_scores >= threshold) != (before >= threshold)
    directions = []
    for own, target in sorted({(p[1], p[2]) for p in pairs}):
        mask = np.array([(p[1], p[2]) == (own, target) for p in pairs])
        directions.append(
            DirectionResult(own, target, int(mask.sum()), int(flipped[mask].sum()), float(shift[mask].mean()))
        )
    order = np.argsort(-np.abs(shift))[:examples]
    return CounterfactualResult(
        attribute=attribute,
        pairs=len(pairs),
        flips=int(flipped.sum()),
        flip_rate=float(flipped.mean()) if pairs else float("nan"),
        mean_shift=float(shift.mean()) if pairs else float("nan"),
        mean_abs_shift=float(np.abs(shift).mean()) if pairs else float("nan"),
        directions=tuple(directions),
        examples=tuple(
            FlipExample(
                row=pairs[i][0],
                from_group=pairs[i][1],
                to_group=pairs[i][2],
                original_value=str(pairs[i][3]),
                counterfactual_value=str(typical[pairs[i][2]]),
                score=pairs[i][4],
                counterfactual_score=float(new_scores[i]),
            )
            for i in order
        ),
    )
