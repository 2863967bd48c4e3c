"""Writing a run's outputs: everything goes into a hidden staging directory that is renamed into place
only when complete, so an interrupted or failed run (or re-render) leaves no half report.

A run and ``fmaudit report`` share one path, from the findings document to the files, so a re-render of
a run gives the same bytes it wrote.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmaudit.core.errors import OutputError
from fmaudit.core.findings import Findings
from fmaudit.core.provenance import Provenance
from fmaudit.metrics.gates import GateResult
from fmaudit.plugins.base import ComparedModel, Predictions
from fmaudit.report.document import (
    FINDINGS,
    TWIN_DIR,
    build_document,
    document_json,
    load_document,
    predictions_frame,
    table_csvs,
)
from fmaudit.report.formats import RenderOptions, render_format, twin_formats
from fmaudit.report.manifest import MANIFEST, SIGNATURE, build_manifest
from fmaudit.report.redact import redact_document, run_salt
from fmaudit.report.schema import FindingsDocument

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from fmaudit.data import PreparedData
    from fmaudit.metrics.seed_spread import SeedSpread
    from fmaudit.spec import Spec
    from fmaudit.training.records import TrainingRecord

PREDICTIONS = "predictions.csv"


@dataclass(frozen=True)
class RunOutputs:
    """What every output of a run renders from: its findings document and per-row predictions (CSV bytes),
    and the same for each compared model that has its own report (by subdirectory)."""

    document: FindingsDocument
    predictions_csv: bytes | None
    nested: dict[str, RunOutputs] = field(default_factory=dict)

    def redacted(self, salt: bytes | None = None) -> RunOutputs:
        """Without applicant-level content and without predictions.csv; one salt for the whole run."""
        salt = salt if salt is not None else run_salt(self.predictions_csv)
        return RunOutputs(
            redact_document(self.document, salt), None, {k: v.redacted(salt) for k, v in self.nested.items()}
        )


@dataclass(frozen=True)
class OutputOptions:
    """How to write a run's outputs: formats, redaction, signing, PDF engine, an MLflow tracking URI."""

    formats: tuple[str, ...]
    redact: bool = False
    key: Ed25519PrivateKey | None = None
    pdf_engine: str = "weasyprint"
    mlflow_uri: str | None = None
    """``run --mlflow-uri`` (a file store already absolute): log the run there, over ``output.mlflow.tracking_uri``
    (``fmaudit.report.mlflow_log``)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Filled with each format's render time in seconds (for the closing note and bench/)."""


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
    spread: SeedSpread | None = None,
    options: OutputOptions | None = None,
) -> Path:
    """Write the run's outputs atomically, with the twin's own report in ``twin/``; return the final directory."""
    options = options or OutputOptions(tuple(spec.output.formats), redact=spec.output.redact)
    document = build_document(
        spec=spec,
        data=data,
        record=record,
        findings=findings,
        gate_results=gate_results,
        provenance=provenance,
        seconds=seconds,
        compared=compared,
        spread=spread,
    )
    nested = {}
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
        nested[TWIN_DIR] = RunOutputs(twin_document, _csv(predictions_frame(data, model.predictions)))
    outputs = RunOutputs(document, _csv(predictions_frame(data, predictions)), nested)
    return write_run_outputs(out_root / provenance.run_id, outputs, options)


def write_run_outputs(final: Path, outputs: RunOutputs, options: OutputOptions) -> Path:
    """Write ``outputs`` into the new directory ``final`` atomically (a run, or a monitoring report); return it."""
    _staged(final, lambda staging: write_outputs(staging, outputs, options))
    return final


def read_outputs(run_dir: Path) -> RunOutputs:
    """A run directory's findings documents and predictions, as written by ``write_report``."""
    nested = {TWIN_DIR: read_outputs(run_dir / TWIN_DIR)} if (run_dir / TWIN_DIR / FINDINGS).is_file() else {}
    csv = run_dir / PREDICTIONS
    return RunOutputs(load_document(run_dir), csv.read_bytes() if csv.is_file() else None, nested)


def rerender(run_dir: Path, out: Path | None, options: OutputOptions) -> Path:
    """``fmaudit report``: the requested formats from the run's findings.json, into ``out`` (a new directory)
    or, without ``out``, into the run directory itself (other files kept, the manifest rewritten)."""
    outputs = read_outputs(run_dir)
    if out is None or out.resolve() == run_dir.resolve():
        if options.redact:
            raise OutputError("--redact writes a redacted copy: give --out (the run directory keeps the full report)")
        keep = [
            p
            for p in run_dir.rglob("*")
            if p.is_file() and p.relative_to(run_dir).as_posix() not in (MANIFEST, SIGNATURE)
        ]

        def in_place(staging: Path) -> None:
            for path in keep:
                (staging / path.relative_to(run_dir)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, staging / path.relative_to(run_dir))
            write_outputs(staging, outputs, options)

        _staged(run_dir, in_place, replace_existing=True)
        return run_dir
    if out.exists():
        raise OutputError(f"{out}: already exists; give --out a new directory")
    _staged(out, lambda staging: write_outputs(staging, outputs, options))
    return out


def write_outputs(directory: Path, outputs: RunOutputs, options: OutputOptions) -> None:
    """findings.json, predictions.csv, the tables written as CSV (e.g. notices.csv) and each format (nested
    reports too), then the manifest and signature."""
    from fmaudit.report.signing import sign

    if options.redact:
        outputs = outputs.redacted()
        (directory / PREDICTIONS).unlink(missing_ok=True)
    _write_tree(directory, outputs, options.formats, options)
    manifest = build_manifest(directory, outputs.document)
    (directory / MANIFEST).write_bytes(manifest)
    if options.key is not None:
        (directory / SIGNATURE).write_bytes(sign(options.key, manifest))


def _write_tree(directory: Path, outputs: RunOutputs, formats: tuple[str, ...], options: OutputOptions) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / FINDINGS).write_text(document_json(outputs.document), encoding="utf-8")
    if outputs.predictions_csv is not None:
        (directory / PREDICTIONS).write_bytes(outputs.predictions_csv)
    for name, content in table_csvs(outputs.document).items():
        (directory / name).write_bytes(content)
    for name in formats:
        started = time.perf_counter()
        rendered = render_format(name, outputs.document, RenderOptions(formats, options.pdf_engine))
        for relative, content in rendered.items():
            (directory / relative).parent.mkdir(parents=True, exist_ok=True)
            (directory / relative).write_bytes(content)
        options.timings[name] = options.timings.get(name, 0.0) + time.perf_counter() - started
    for subdirectory, nested in outputs.nested.items():
        _write_tree(directory / subdirectory, nested, twin_formats(formats), options)


def _staged(final: Path, fill: Callable[[Path], None], *, replace_existing: bool = False) -> None:
    """Fill a hidden sibling directory, then rename it to ``final`` (swapping out the old one if asked)."""
    staging = final.parent / f".{final.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        fill(staging)
        if replace_existing:
            old = final.parent / f".{final.name}.old"
            final.rename(old)
            staging.rename(final)
            shutil.rmtree(old)
        else:
            staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _csv(frame: Any) -> bytes:
    return str(frame.to_csv(index=False)).encode("utf-8")
