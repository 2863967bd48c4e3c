"""Reasons that may stand in for a sensitive attribute: a field that predicts a protected attribute and drives
the decision is a proxy (Yeom, Datta & Fredrikson 2018), and a notice giving it as a reason needs a flag.

Every field that can be a reason (the non-sensitive ones) is measured against every declared sensitive
attribute (``fmaudit.metrics.association``: bias-corrected Cramér's V) on the test split, the rows the notices
and the reference applicant come from; no statistic of the training rows is released.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fmaudit.metrics.association import Association, associations

if TYPE_CHECKING:
    from fmaudit.plugins.context import AuditContext


def reason_field_associations(
    context: AuditContext, fields: Sequence[str], sensitive: Sequence[int]
) -> tuple[Association, ...]:
    """Each non-sensitive field's association with each declared sensitive attribute, on the test split."""
    rows = context.predictions.row_ids
    candidates = [name for f, name in enumerate(fields) if f not in sensitive]
    attributes = [a for a in context.spec.data.sensitive if a in context.data.sensitive.columns]
    return associations(
        context.data.frame.iloc[rows][candidates].reset_index(drop=True),
        context.data.sensitive.iloc[rows][attributes].reset_index(drop=True),
    )


def proxy_flags(
    found: Sequence[Association], fields: Sequence[str], *, threshold: float
) -> dict[int, tuple[Association, ...]]:
    """Field index -> its associations above ``threshold``, for the fields with any."""
    index = {name: f for f, name in enumerate(fields)}
    flags: dict[int, tuple[Association, ...]] = {}
    for association in found:
        if association.value > threshold:
            f = index[association.field]
            flags[f] = (*flags.get(f, ()), association)
    return flags
