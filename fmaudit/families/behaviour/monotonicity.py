"""Directional tests: move a declared field the favourable way and check that the score does not drop.

For credit, expectations such as "more savings never lowers the score" are written down before
validation (model-risk guidance asks for conceptual soundness); a violation is a finding whatever the
accuracy. An ordered field moves up its declared order by the given number of positions; a number moves
by each step in its favourable direction, stopping at the edge of the range observed in the data (so no
applicant is invented outside it). Rows whose value is outside the order, or already at the top, are
not tested for that field.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from fmaudit.families.behaviour.params import Monotone
from fmaudit.families.behaviour.scoring import Edit


def monotone_edits(
    field: str,
    claim: Monotone,
    records: Sequence[dict[str, object]],
    *,
    observed: pd.Series,
    template: str,
) -> list[Edit]:
    """The favourable moves of ``field`` for every sampled row (``observed``: the column over all rows)."""
    edits: list[Edit] = []
    if claim.order is not None:
        rank = {value: i for i, value in enumerate(claim.order)}
        for position, record in enumerate(records):
            at = rank.get(str(record[field]))
            if at is None:
                continue
            for step in claim.moves:
                up = at + int(step)
                if up < len(claim.order):
                    new = claim.order[up]
                    edits.append(Edit(position, {**record, field: new}, template, field, f"{record[field]!s} → {new}"))
        return edits
    numbers = pd.to_numeric(observed, errors="coerce")
    low, high = float(numbers.min()), float(numbers.max())
    integral = pd.api.types.is_integer_dtype(observed)
    sign = 1.0 if claim.direction == "increasing" else -1.0
    for position, record in enumerate(records):
        value = pd.to_numeric(pd.Series([record[field]]), errors="coerce").iloc[0]
        if pd.isna(value):
            continue
        moved: set[float] = set()
        for step in claim.moves:
            target = min(max(float(value) + sign * step, low), high)
            if target == float(value) or target in moved:
                continue
            moved.add(target)
            moved_to: object = round(target) if integral else target
            edits.append(
                Edit(position, {**record, field: moved_to}, template, field, f"{record[field]!s} → {moved_to}")
            )
    return edits
