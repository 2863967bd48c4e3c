"""Tabular models trained elsewhere, made the way users make them: a scikit-learn pipeline (one-hot categories,
standardised numbers, logistic regression) fitted on German Credit rows, saved with skops and exported with
skl2onnx (one input per column, named after it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fmaudit.data import PreparedData, is_numeric

LABEL = "creditability"


def credit_pipeline(data: PreparedData, fields: Sequence[str], *, rows: np.ndarray | None = None) -> Any:
    """The pipeline fitted on ``rows`` (the training split) of ``fields``, classes 'bad' and 'good'."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = data.frame.iloc[data.train_idx if rows is None else rows]
    numeric = [f for f in fields if is_numeric(frame[f])]
    categorical = [f for f in fields if f not in numeric]
    encode = ColumnTransformer(
        [("categories", OneHotEncoder(handle_unknown="ignore"), categorical), ("numbers", StandardScaler(), numeric)]
    )
    model = Pipeline([("encode", encode), ("classify", LogisticRegression(max_iter=500))])
    return model.fit(frame[list(fields)], frame[LABEL].astype(str))


def save_skops(model: Any, path: Path) -> Path:
    import skops.io

    skops.io.dump(model, path)
    return path


def column_types(frame: pd.DataFrame, fields: Sequence[str]) -> list[tuple[str, Any]]:
    """skl2onnx's ``initial_types``: one input per column, named after it, a string tensor for a category and an
    int64 / float tensor for a number."""
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    types: list[tuple[str, Any]] = []
    for f in fields:
        if not is_numeric(frame[f]):
            types.append((f, StringTensorType([None, 1])))
        elif frame[f].dtype.kind in "iu":
            types.append((f, Int64TensorType([None, 1])))
        else:
            types.append((f, FloatTensorType([None, 1])))
    return types


def save_onnx(
    model: Any, path: Path, *, initial_types: list[tuple[str, Any]] | None = None, zipmap: bool = True
) -> Path:
    """``model`` exported to ONNX: probabilities as a ZipMap (skl2onnx's default) or a plain tensor."""
    from skl2onnx import convert_sklearn

    options = None if zipmap else {id(model): {"zipmap": False}}
    path.write_bytes(convert_sklearn(model, initial_types=initial_types, options=options).SerializeToString())
    return path
