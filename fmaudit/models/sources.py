"""A model trained elsewhere (``model.source``), loaded by its format and identified by the hash of its files,
so the manifest and ``fmaudit verify`` cover it as they cover a model fmaudit trained."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fmaudit.core.errors import ModelError
from fmaudit.core.provenance import sha256_files
from fmaudit.models.scores import ROW_NUMBER

if TYPE_CHECKING:
    from fmaudit.data import PreparedData
    from fmaudit.models.base import Classifier
    from fmaudit.spec import DataSpec, SourceSpec


@dataclass(frozen=True)
class ExternalModel:
    """A loaded model trained elsewhere and the files that are it."""

    classifier: Classifier
    path: Path
    files: tuple[Path, ...]

    @property
    def sha256(self) -> str:
        """One file's sha256, or of several the hash of their names and hashes (sorted)."""
        return sha256_files(self.files)


def source_path(source: SourceSpec, *, base_dir: Path) -> Path:
    """The source's file or directory, relative paths read from the spec's directory."""
    path = Path(source.path).expanduser()
    return (path if path.is_absolute() else base_dir / path).resolve()


def id_column(data_spec: DataSpec) -> str:
    """The column a scores or training-rows file names rows by: ``data.id``'s, else ``row`` (row numbers)."""
    return data_spec.id or ROW_NUMBER


def load_source(
    source: SourceSpec,
    data: PreparedData,
    data_spec: DataSpec,
    *,
    columns: Sequence[str],
    base_dir: Path,
    cache_dir: Path,
) -> ExternalModel:
    """Load the model ``source`` names, checked against the data it is audited on (favourable output, input
    columns, scored rows); every problem is a ModelError naming the file and the key."""
    path = source_path(source, base_dir=base_dir)
    favourable = data_spec.favourable_values
    if source.format == "scores":
        from fmaudit.models.scores import load_scores

        scores = load_scores(path, data, id_column=id_column(data_spec), score_column=source.score, kind=source.kind)
        return ExternalModel(scores, path, (path,))
    if source.format in ("huggingface", "peft"):
        from fmaudit.models.huggingface import load_classifier_dir

        text, weights = load_classifier_dir(
            source, path, favourable_values=favourable, base_dir=base_dir, cache_dir=cache_dir
        )
        return ExternalModel(text, path, weights)
    from fmaudit.models.pipelines import load_onnx, load_skops

    labels = sorted(set(data.frame[data_spec.label].astype(str)))
    try:
        if source.format == "skops":
            pipeline = load_skops(path, columns=columns, favourable=favourable, labels=labels, trusted=source.trusted)
        else:
            pipeline = load_onnx(path, columns=columns, favourable=favourable, labels=labels)
        pipeline.check(data.frame)  # a column the model cannot read fails now, not in the middle of an audit
    except ModelError as exc:  # the pipeline loaders name the file (and the fix, e.g. model.source.trusted)
        raise ModelError(f"model.source.path: {exc}") from exc
    return ExternalModel(pipeline, path, pipeline.weight_files)
