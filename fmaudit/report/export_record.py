"""export.json: what an exported model directory holds and which audited weights it came from.

``fmaudit export`` writes it last, over every other file it wrote; ``fmaudit verify --model`` checks a
deployment artifact against it and it against the run's manifest.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

from fmaudit.core.errors import OutputError
from fmaudit.report.manifest import listed_files, read_listing
from fmaudit.report.schema import json_kind

EXPORT_FILE = "export.json"
EXPORT_VERSION = 1

Form = Literal["huggingface", "lora-merged", "lora-adapter", "onnx"]
FORMS: tuple[Form, ...] = ("huggingface", "lora-merged", "lora-adapter", "onnx")


@dataclass(frozen=True)
class ExportRecord:
    """An export directory's provenance: the run and weights it came from, and the SHA-256 of every file."""

    run_id: str
    name: str
    """The audit spec's name."""
    kind: str
    """'text' or 'tabular', as the spec's ``model.kind``."""
    form: Form
    weights_sha256: str
    """The audited weights, as the run's manifest records them (``inputs.weights_sha256``)."""
    weights_file: str | None
    """The exported file that is the audited weights byte for byte; None when every weight file is derived
    (a merged model, an adapter under peft's names): then only this record ties the export to the audit."""
    favourable_label: str
    """The decision class 1 stands for (``data.positive``)."""
    max_length: int | None
    """Text models: the tokens the audit truncated each input to."""
    base_model: str
    base_model_sha256: str
    source: dict[str, str]
    """The model cache's files the export read, with their SHA-256."""
    files: dict[str, str]
    """Every file of the export directory but this record, with its SHA-256."""
    fmaudit_version: str

    def to_json(self) -> str:
        return json.dumps({"fmaudit_export": EXPORT_VERSION, **asdict(self)}, indent=2) + "\n"


def read_export(directory: Path) -> ExportRecord:
    """The export record of ``directory``; an OutputError (exit 2) naming the file and the key when it is
    unreadable or not of this shape, as for a malformed manifest."""
    path = directory / EXPORT_FILE
    raw = read_listing(path, "an export record")
    if raw.get("fmaudit_export") != EXPORT_VERSION:
        got = raw.get("fmaudit_export")
        raise OutputError(f"{path}: fmaudit_export: expected export record version {EXPORT_VERSION}; got {got!r}")
    files = listed_files(path, raw, own=(EXPORT_FILE,), inside="the export directory")
    missing = [f.name for f in fields(ExportRecord) if f.name not in raw]
    if missing:
        raise OutputError(f"{path}: {missing[0]}: missing")
    if raw["form"] not in FORMS:
        raise OutputError(f"{path}: form: expected one of {', '.join(FORMS)}; got {raw['form']!r}")
    for key in ("run_id", "weights_sha256"):
        if not isinstance(raw[key], str):
            raise OutputError(f"{path}: {key}: expected a string; got {json_kind(raw[key])}")
    if raw["weights_file"] is not None and raw["weights_file"] not in files:
        raise OutputError(f"{path}: weights_file: {raw['weights_file']!r} is not one of the files listed")
    return ExportRecord(**{f.name: raw[f.name] for f in fields(ExportRecord) if f.name != "files"}, files=files)
