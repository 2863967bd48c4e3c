"""Attribution by group: does the model lean on the protected attribute for some groups more than others?

Per sensitive group, the mean absolute attribution of every field and the share
of each row's absolute attribution that lands on sensitive fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GroupAttribution:
    rows: int
    mean_abs: np.ndarray
    """Mean |attribution| per field."""
    sensitive_share: float
    """Mean over the group's rows of the share of |attribution| on sensitive fields."""


def absolute_shares(attributions: np.ndarray) -> np.ndarray:
    """Each field's share of its row's absolute attribution (rows x fields; a row without any is all zero)."""
    magnitude = np.abs(attributions)
    totals = magnitude.sum(axis=1, keepdims=True)
    return np.divide(magnitude, totals, out=np.zeros_like(magnitude), where=totals > 0)


def mean_shares(attributions: np.ndarray) -> np.ndarray:
    """Each field's share of absolute attribution, averaged over the rows with any (a row identical to the
    reference applicant has nothing to explain)."""
    shares = absolute_shares(attributions)
    explained = shares.sum(axis=1) > 0
    return shares[explained].mean(axis=0) if explained.any() else np.zeros(attributions.shape[1])


def attribution_by_group(
    attributions: np.ndarray, groups: Sequence[str], sensitive: Sequence[int]
) -> dict[str, GroupAttribution]:
    """Per group (in sorted order) of the explained rows: rows, mean |attribution| per field, sensitive share."""
    labels = np.asarray(groups, dtype=object)
    shares = absolute_shares(attributions)[:, list(sensitive)].sum(axis=1)
    result = {}
    for group in sorted(set(labels.tolist())):
        members = labels == group
        result[str(group)] = GroupAttribution(
            rows=int(members.sum()),
            mean_abs=np.abs(attributions[members]).mean(axis=0),
            sensitive_share=float(shares[members].mean()),
        )
    return result
