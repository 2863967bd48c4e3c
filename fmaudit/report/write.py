"""Writing a run's outputs: everything goes into a hidden staging directory that is renamed into place
only when complete, so an interrupted or failed run leaves no half report.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmaudit.findings import Findings
from fmaudit.gates import GateResult
from fmaudit.plugins.base import ComparedModel, Predictions
from fmaudit.provenance import Provenance
from fmaudit.report.document import TWIN_DIR, build_document, predictions_frame
from fmaudit.report.html import render_html

if TYPE_CHECKING:
    from fmaudit.data import PreparedData
    from fmaudit.spec import Spec
    from fmaudit.training.records import TrainingRecord


def write_report(
    out_root: Path,
    *,
    spec: Spec,
    data: PreparedData,
    predictions: Predictions,
    record: TrainingRecord,
    findings: Findings,
    gate_results: list[GateResult],
    provenance: Provenance,
    seconds: float,
    compared: tuple[ComparedModel, ...] = (),
) -> Path:
    """Write the report files atomically, with the twin's own report in ``twin/``; return the final directory."""
    document = build_document(
        spec=spec,
        data=data,
        record=record,
        findings=findings,
        gate_results=gate_results,
        provenance=provenance,
        seconds=seconds,
        compared=compared,
    )
    final = out_root / provenance.run_id
    staging = out_root / f".{provenance.run_id}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _write_files(staging, document, data, predictions)
        for model in compared:
            if model.role != "twin":
                continue
            twin_document = build_document(
                spec=spec,
        data=data,
                record=model.training,
                findings=model.findings,
                gate_results=[],
                provenance=replace(provenance, weights_sha256=model.training.weights_sha256),
                seconds=seconds,
                role="twin",
            )
            (staging / TWIN_DIR).mkdir()
            _write_files(staging / TWIN_DIR, twin_document, data, model.predictions)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _write_files(directory: Path, document: dict[str, Any], data: PreparedData, predictions: Predictions) -> None:
    (directory / "findings.json").write_text(json.dumps(document, indent=2, allow_nan=False), encoding="utf-8")
    predictions_frame(data, predictions).to_csv(directory / "predictions.csv", index=False)
    (directory / "report.html").write_text(render_html(document), encoding="utf-8")
