"""Load any classifier exported to ONNX (skl2onnx for scikit-learn, onnxmltools for XGBoost / LightGBM) and
score it with onnxruntime.

Inputs, one of two layouts:

- one input per column, named after it (skl2onnx's ``initial_types``), each cast to its declared type: a string
  tensor for a categorical column (a missing value is the empty string), a float / double / integer tensor for
  a numeric one;
- a single 2-D float tensor holding every field of the data's template, in template order (all numeric).

Outputs: the class probabilities, either as skl2onnx's ZipMap (one dict per row, keyed by class label) or as a
rows x classes tensor (``options={'zipmap': False}``). The classes' order comes from the model's metadata
(``classes``: a JSON list, which any exporter can set with ``onnx.helper.set_model_props``) or else from the
graph (``onnx_classes``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fmaudit.core.errors import ModelError
from fmaudit.models.pipelines.classes import favourable_indices, label_text
from fmaudit.models.pipelines.classifier import PipelineClassifier
from fmaudit.models.pipelines.onnx_classes import graph_classes

CLASSES_METADATA = "classes"
"""Model metadata key naming the classes of the probability columns, in order, as a JSON list."""
NUMERIC = {"tensor(float)": np.float32, "tensor(double)": np.float64}
INTEGER = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}
Feeds = Callable[[pd.DataFrame], dict[str, np.ndarray]]


def load_onnx(
    path: Path, *, columns: Sequence[str], favourable: Sequence[str], labels: Sequence[str] = ()
) -> PipelineClassifier:
    """The classifier in an ONNX file, scored on ``columns`` (the data's template fields) with P(favourable) the
    sum of the ``favourable`` classes' probabilities. ``labels``: the data's label values as text; when given,
    the model's classes must be exactly those."""
    path = Path(path)
    graph, session = _read(path)
    read, feeds = _inputs(session.get_inputs(), columns, path)
    output, zipmap = _probability_output(session.get_outputs(), path)
    classes = _classes(session, graph, output, path)
    chosen = list(favourable_indices(classes, favourable=favourable, labels=labels, source=path))
    keys = [label_text(c) for c in classes]

    def score(frame: pd.DataFrame) -> np.ndarray:
        (probabilities,) = session.run([output], feeds(frame))
        table = (
            np.array([_by_class(row, keys) for row in probabilities], dtype=np.float64).reshape(-1, len(keys))
            if zipmap
            else np.asarray(probabilities, dtype=np.float64)
        )
        if table.ndim != 2 or table.shape[1] != len(classes):
            raise ModelError(
                f"{path}: output {output!r} has shape {table.shape}; expected one column per class ({len(classes)})"
            )
        return table[:, chosen].sum(axis=1)

    return PipelineClassifier(
        source=path,
        format="onnx",
        columns=read,
        classes=tuple(keys),
        favourable=tuple(label_text(classes[k]) for k in chosen),
        score=score,
        description=f"ONNX model (file {path.name}, from {graph.producer_name or 'an unnamed exporter'})",
    )


def _by_class(row: dict[Any, float], keys: Sequence[str]) -> list[float]:
    """One ZipMap row's probabilities in class order (its keys compared as text, like the classes)."""
    named = {label_text(k): v for k, v in row.items()}
    return [named[k] for k in keys]


def _read(path: Path) -> tuple[Any, Any]:
    """The model's graph (for its class labels) and an onnxruntime session on the CPU."""
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    import onnx
    import onnxruntime

    try:
        graph = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError and onnx's own errors share no base but Exception
        raise ModelError(f"{path}: not an ONNX model: {exc}") from exc
    try:
        session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's errors derive from Exception only
        raise ModelError(f"{path}: onnxruntime cannot run the model: {exc}") from exc
    return graph, session


def _inputs(inputs: Sequence[Any], columns: Sequence[str], path: Path) -> tuple[tuple[str, ...], Feeds]:
    """The columns the model reads and how a frame becomes its inputs, in one of the two layouts."""
    names = [i.name for i in inputs]
    if all(name in columns for name in names):
        return tuple(names), _per_column(inputs, path)
    if len(inputs) == 1 and len(inputs[0].shape) == 2 and inputs[0].type in NUMERIC:
        width = inputs[0].shape[1]
        if isinstance(width, int) and width != len(columns):
            raise ModelError(
                f"{path}: the model's one input {names[0]!r} is a tensor of {width} columns; the data's template has "
                f"{len(columns)} fields ({', '.join(columns)}): a single input must hold every field, in that order"
            )
        return tuple(columns), _single_tensor(inputs[0], columns, path)
    missing = [n for n in names if n not in columns]
    unread = [c for c in columns if c not in names]
    raise ModelError(
        f"{path}: the model's inputs do not match the data's columns: inputs {missing} are not fields of the data's "
        f"template"
        + (f"; fields the model has no input for: {unread}" if unread else "")
        + ". Export it with one input per column, named after it (skl2onnx: initial_types), or with one float "
        "tensor of every field in template order"
    )


def _per_column(inputs: Sequence[Any], path: Path) -> Feeds:
    """Feeds for one input per column, each column cast to its input's type and shaped (rows,) or (rows, 1)."""
    for i in inputs:
        if i.type not in {"tensor(string)", "tensor(bool)", *NUMERIC, *INTEGER}:
            raise ModelError(f"{path}: input {i.name!r} is a {i.type}; a column can be fed as a string, number or bool")
        if not _one_per_row(i.shape):
            raise ModelError(f"{path}: input {i.name!r} has shape {i.shape}; a column input takes one value per row")

    def feeds(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        out = {}
        for i in inputs:
            values = _cast(frame[i.name], i.type, path=path, name=i.name)
            out[i.name] = values.reshape(-1, 1) if len(i.shape) == 2 else values
        return out

    return feeds


def _one_per_row(shape: Sequence[object]) -> bool:
    """Whether an input of this shape takes one value per row: (rows,) or (rows, 1), dimensions maybe symbolic."""
    return len(shape) == 1 or (len(shape) == 2 and not (isinstance(shape[1], int) and shape[1] != 1))


def _single_tensor(tensor: Any, columns: Sequence[str], path: Path) -> Feeds:
    """Feeds for one float tensor holding every column, in ``columns`` order."""

    def feeds(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        parts = [_cast(frame[c], tensor.type, path=path, name=f"{tensor.name}[{c}]") for c in columns]
        return {tensor.name: np.stack(parts, axis=1) if parts else np.zeros((len(frame), 0), NUMERIC[tensor.type])}

    return feeds


def _cast(values: pd.Series, kind: str, *, path: Path, name: str) -> np.ndarray:
    """One column as an input of type ``kind``; a value that does not fit is a ``ModelError`` naming it."""
    if kind == "tensor(string)":
        return values.astype("string").fillna("").to_numpy(dtype=object)
    if kind == "tensor(bool)":
        return values.astype(bool).to_numpy()
    coerced = pd.to_numeric(values, errors="coerce")
    bad = values[coerced.isna() & values.notna()]
    if len(bad):
        raise ModelError(
            f"{path}: input {name!r} takes numbers ({kind}), but column {values.name!r} holds {bad.iloc[0]!r}; "
            "export the model with a string input for that column"
        )
    numbers = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind in NUMERIC:
        return numbers.astype(NUMERIC[kind])
    if np.isnan(numbers).any() or (numbers != np.round(numbers)).any():
        raise ModelError(
            f"{path}: input {name!r} takes whole numbers ({kind}), but column {values.name!r} holds missing or "
            "fractional values; export it as a float input"
        )
    return numbers.astype(INTEGER[kind])


def _probability_output(outputs: Sequence[Any], path: Path) -> tuple[str, bool]:
    """The output holding the class probabilities, and whether it is a ZipMap (one dict per row)."""
    zipmaps = [o.name for o in outputs if o.type.startswith("seq(map(")]
    if len(zipmaps) == 1:
        return zipmaps[0], True
    tensors = [o.name for o in outputs if o.type in NUMERIC and len(o.shape) == 2]
    named = [n for n in tensors if "prob" in n.lower()]
    if len(tensors) == 1 or len(named) == 1:
        return (tensors if len(tensors) == 1 else named)[0], False
    listed = ", ".join(f"{o.name} ({o.type})" for o in outputs)
    raise ModelError(
        f"{path}: cannot tell which output holds the class probabilities; outputs: {listed}. Expected one ZipMap "
        "output or one rows x classes float tensor (skl2onnx's 'probabilities')"
    )


def _classes(session: Any, graph: Any, output: str, path: Path) -> list[object]:
    """The class of each probability column, in order: the metadata's ``classes``, else the graph's labels."""
    listed = session.get_modelmeta().custom_metadata_map.get(CLASSES_METADATA)
    if listed is not None:
        try:
            classes = json.loads(listed)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{path}: metadata {CLASSES_METADATA!r} is not a JSON list: {listed!r}") from exc
        if not isinstance(classes, list) or not classes:
            raise ModelError(f"{path}: metadata {CLASSES_METADATA!r} is not a JSON list of labels: {listed!r}")
        return classes
    found = graph_classes(graph.graph, output)
    if found is None:
        raise ModelError(
            f"{path}: cannot tell which class each column of output {output!r} is: the graph names no class "
            f"labels. Export with ZipMap, or set them in the model's metadata: onnx.helper.set_model_props(model, "
            f"{{{CLASSES_METADATA!r}: json.dumps(list(estimator.classes_))}})"
        )
    return found
