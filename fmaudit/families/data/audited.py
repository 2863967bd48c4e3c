"""What the data audit reads: the data's columns (less the label, the row ids and the training-row marker), the
labels, the sensitive groups and the split, taken from the prepared data alone (no model)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmaudit.plugins.context import AuditContext


@dataclass(frozen=True)
class AuditedData:
    frame: pd.DataFrame
    """Every audited column, one row per row of the data."""
    labels: np.ndarray
    """1 where the label is favourable."""
    groups: pd.DataFrame
    """Each sensitive attribute's (and intersection's) group per row."""
    train: np.ndarray
    test: np.ndarray
    inputs: np.ndarray
    """A hash of what the model reads per row: its serialised text (text models) or its template fields' values
    (tabular models)."""

    @classmethod
    def of(cls, context: AuditContext) -> AuditedData:
        data, spec = context.data, context.spec
        source = spec.model.source
        marker = source.trained_on.column if source is not None and source.trained_on is not None else None
        left_out = {spec.data.label, spec.data.id, marker} - {None}
        columns = [c for c in data.frame.columns if c not in left_out]
        fields = [f for f in context.plan.fields if f in data.frame.columns]
        if context.plan.model_kind == "text":
            inputs = pd.util.hash_pandas_object(pd.Series(list(data.texts), dtype=object), index=False)
        else:
            inputs = pd.util.hash_pandas_object(data.frame[fields or columns], index=False)
        return cls(
            frame=data.frame[columns],
            labels=np.asarray(data.labels),
            groups=data.sensitive,
            train=np.asarray(data.train_idx),
            test=np.asarray(data.test_idx),
            inputs=inputs.to_numpy(),
        )
