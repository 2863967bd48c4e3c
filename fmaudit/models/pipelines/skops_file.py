"""Load a scikit-learn, XGBoost or LightGBM classifier saved with skops (``skops.io.dump``).

skops loads only the types it trusts (scikit-learn's estimators, numpy, scipy and builtins) unless told to trust
more: loading a type runs its code. A file naming others is refused, listing them, until the spec trusts them by
name (``model.source.trusted``). fmaudit never loads ``pickle`` or ``joblib`` files: unpickling runs whatever code
the file names, before anything can check it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fmaudit.core.errors import ModelError
from fmaudit.models.pipelines.classes import favourable_indices, label_text
from fmaudit.models.pipelines.classifier import PipelineClassifier

TRUSTED_KEY = "model.source.trusted"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".jbl", ".pck", ".dill")


def load_skops(
    path: Path,
    *,
    columns: Sequence[str],
    favourable: Sequence[str],
    labels: Sequence[str] = (),
    trusted: Sequence[str] = (),
) -> PipelineClassifier:
    """The classifier in a skops file, scored on ``columns`` (the data's template fields) with P(favourable) the
    sum of the ``favourable`` classes' probabilities. ``labels``: the data's label values as text; when given,
    the model's classes must be exactly those. ``trusted``: further types to load (``model.source.trusted``).

    The model's input columns are its ``feature_names_in_`` (fitted on a DataFrame), fed to it by name in its
    own order; a model fitted on an array reads ``columns`` in their order."""
    path = Path(path)
    estimator = _load(path, trusted=trusted)
    for attribute in ("predict_proba", "classes_"):
        if not hasattr(estimator, attribute):
            raise ModelError(
                f"{path}: holds a {type(estimator).__name__}, which has no {attribute}; fmaudit audits fitted "
                "classifiers that give class probabilities"
            )
    read = _input_columns(estimator, columns, path)
    chosen = list(favourable_indices(estimator.classes_, favourable=favourable, labels=labels, source=path))
    named = hasattr(estimator, "feature_names_in_")

    def score(frame: pd.DataFrame) -> np.ndarray:
        rows = frame[list(read)]
        probabilities = estimator.predict_proba(rows if named else rows.to_numpy())
        return np.asarray(probabilities, dtype=np.float64)[:, chosen].sum(axis=1)

    return PipelineClassifier(
        source=path,
        format="skops",
        columns=read,
        classes=tuple(label_text(c) for c in estimator.classes_),
        favourable=tuple(label_text(estimator.classes_[k]) for k in chosen),
        score=score,
        description=f"{type(estimator).__name__} (skops file {path.name})",
    )


def _load(path: Path, *, trusted: Sequence[str]) -> Any:
    """The object in the file, once every type it names is trusted by skops or listed in ``trusted``."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelError(
            f"{path}: fmaudit never loads pickle or joblib files: unpickling runs whatever code the file names, "
            "before anything can check it. Convert the model once, where you trust the file: "
            f"skops.io.dump(joblib.load({path.name!r}), {path.stem + '.skops'!r}), and give the .skops file"
        )
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise ModelError(f"{path}: not a skops file (skops.io.dump writes one): {exc}") from exc
    refused = [name for name in untrusted if name not in trusted]
    if refused:
        listed = ", ".join(refused)
        raise ModelError(
            f"{path}: skops does not trust {len(refused)} type(s) the file names: {listed}. Loading a type runs "
            "its code, so skops loads only the types it knows are safe, and fmaudit never falls back to pickle or "
            f"joblib. If the file comes from a source you trust, list them under {TRUSTED_KEY}: "
            f"[{', '.join(map(repr, refused))}]"
        )
    try:
        return skops.io.load(path, trusted=untrusted)
    except Exception as exc:  # the file's own objects raise what they raise while being rebuilt
        raise ModelError(f"{path}: skops could not load the model: {exc}") from exc


def _input_columns(estimator: Any, columns: Sequence[str], path: Path) -> tuple[str, ...]:
    """The columns the model reads, in its order: its ``feature_names_in_``, each one a column of the data;
    without names (fitted on an array), ``columns`` in their order, as many as the model reads."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        width = getattr(estimator, "n_features_in_", None)
        if width is not None and int(width) != len(columns):
            raise ModelError(
                f"{path}: the model was fitted on an array of {int(width)} columns without names, but the data's "
                f"template has {len(columns)} fields ({', '.join(columns)}); fit it on a DataFrame of those "
                "columns so that each is read by name"
            )
        return tuple(columns)
    read = tuple(str(n) for n in names)
    missing = [n for n in read if n not in columns]
    if missing:
        raise ModelError(
            f"{path}: the model reads columns that are not fields of the data's template: {missing}; "
            f"the template's fields: {list(columns)}"
        )
    return read
