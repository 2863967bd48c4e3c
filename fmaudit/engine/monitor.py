"""``fmaudit monitor RUN_DIR CURRENT_DATA``: the audited model scored on new rows after deployment (SR 11-7's
ongoing monitoring) and reported against the audited run, as a run's report with one monitoring section.

The run directory says everything: its manifest and findings.json name the audited weights, which the model
cache holds (``fmaudit.engine.export.audited_model``, as ``fmaudit export`` finds them) or an export of them
does; its resolved spec prepares the current file as the run prepared its data; its data file, re-read and
checked against its hash, gives the reference, the test split, rescored with the same model. Gates are the
spec's ``monitor.gates`` (or ``--gate``), by default no PSI's lower bound above the shift band: exit 1 when one
fails, 2 on unusable input.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from fmaudit.core.errors import OutputError, SpecError
from fmaudit.core.findings import Findings
from fmaudit.core.provenance import Provenance, sha256_file, sha256_json
from fmaudit.data import PreparedData, prepare, template_fields
from fmaudit.data.current import prepare_current
from fmaudit.engine.export import AuditedModel, audited_model
from fmaudit.engine.monitor_figures import Sample, monitor_findings
from fmaudit.engine.pipeline import RunResult
from fmaudit.engine.planning import Progress, default_cache_dir, parse_gates
from fmaudit.engine.trainer import StageClock
from fmaudit.metrics.drift import SHIFTED
from fmaudit.metrics.gates import Gate, GateResult, evaluate, parse_gate
from fmaudit.report.document import FINDINGS, build_document
from fmaudit.report.export_record import read_export
from fmaudit.report.schema import FindingsDocument
from fmaudit.report.write import OutputOptions, RunOutputs, write_run_outputs
from fmaudit.spec import Spec

if TYPE_CHECKING:
    from fmaudit.models.base import Classifier

MONITOR_DIR = "monitor"
"""Where monitoring reports go by default: beside the run directory, under ``<spec name>/monitor/<id>``."""
DECISION_THRESHOLD = 0.5
"""Where a model fmaudit trained decides favourably, as its run decided (``Predictions.threshold``)."""
EXPORT_FORMS = ("onnx", "huggingface")
"""The export forms whose files are the audited model's own (a LoRA export is derived from it)."""


def monitor(
    run_dir: Path,
    current_path: Path,
    *,
    out: Path | None = None,
    cache_dir: Path | None = None,
    model_dir: Path | None = None,
    gates: list[str] | None = None,
    options: OutputOptions | None = None,
    command: str = "",
    progress: Progress = lambda message: None,
) -> RunResult:
    """Score ``current_path`` with ``run_dir``'s audited model (from the cache, or the export in ``model_dir``),
    compare it with the run's test split and write the monitoring report; its exit code is the gate verdict.

    ``gates`` (``--gate``) replace the spec's ``monitor.gates``; ``options`` without formats write the run's."""
    started = time.perf_counter()
    clock = StageClock()
    with clock.stage("find and load the audited model"):
        audited = audited_model(run_dir, cache_dir or default_cache_dir())
        spec = _run_spec(run_dir, audited.document)
        classifier = _classifier(run_dir, audited, model_dir)
    with clock.stage("prepare: the run's data and the current rows"):
        reference = _reference_data(run_dir, audited.document, spec)
        current = prepare_current(spec.data, current_path.resolve(), reference=reference)
    progress(f"reference: {len(reference.test_idx)} test rows of run {audited.document['provenance']['run_id']}")
    progress(f"current: {current.data.n_rows} rows" + ("" if current.labelled else " (no labels)"))
    with clock.stage("score: the run's test split"):
        reference_scores = classifier.predict_rows(reference, reference.test_idx)
    with clock.stage("score: the current rows"):
        current_scores = classifier.predict_rows(current.data, current.data.test_idx)
    fields = template_fields(spec.data.template)
    with clock.stage("monitor figures"):
        section = monitor_findings(
            Sample(
                reference.frame.iloc[reference.test_idx][fields].reset_index(drop=True),
                reference_scores,
                reference.labels[reference.test_idx],
                reference.sensitive.iloc[reference.test_idx].reset_index(drop=True),
            ),
            Sample(
                current.data.frame[fields],
                current_scores,
                current.data.labels if current.labelled else None,
                current.data.sensitive,
            ),
            settings=spec.monitor,
            threshold=DECISION_THRESHOLD,
            unseen=current.unseen,
        )
    findings = Findings((section,))
    gate_list = _gates(gates, spec, findings, where=Path(f"{run_dir / FINDINGS}: resolved_spec.monitor"))
    results = evaluate(gate_list, findings.metrics())
    for stage in clock.stages:
        progress(f"{stage.stage}: {stage.seconds:.2f} s")
    document = _document(
        spec,
        audited,
        run_dir=run_dir,
        current=current.data,
        labelled=current.labelled,
        findings=findings,
        results=results,
        provenance=_provenance(audited, current.data, clock, command=command, seed=spec.monitor.seed),
        seconds=time.perf_counter() - started,
        model=str(model_dir.resolve()) if model_dir else str(audited.directory),
        reference_rows=len(reference.test_idx),
    )
    if options is None or not options.formats:  # the run's formats (a model card is the run's, not this report's)
        formats = tuple(f for f in spec.output.formats if f != "model-card")
        options = replace(options, formats=formats) if options is not None else OutputOptions(formats)
    final = (out or run_dir.parent / MONITOR_DIR) / document["provenance"]["run_id"]
    report_dir = write_run_outputs(final, RunOutputs(document, None), options)
    return RunResult(report_dir, findings, results)


def _run_spec(run_dir: Path, document: FindingsDocument) -> Spec:
    """The run's resolved spec, read by this fmaudit's spec models; a run whose model was trained elsewhere is
    refused (its model is not in the cache)."""
    try:
        spec = Spec.model_validate(document["resolved_spec"])
    except ValidationError as exc:
        raise OutputError(f"{run_dir / FINDINGS}: resolved_spec: not a spec this fmaudit reads ({exc})") from exc
    if spec.model.source is not None:
        raise OutputError(
            f"{run_dir}: the run audited a model trained elsewhere (model.source); monitor runs whose model "
            "fmaudit trained"
        )
    return spec


def _classifier(run_dir: Path, audited: AuditedModel, model_dir: Path | None) -> Classifier:
    """The audited model from the cache, or from an export directory that verifies against the run."""
    if model_dir is None:
        return audited.load()
    from fmaudit.report.verify import verify_model

    outcome = verify_model(run_dir, model_dir)
    if not outcome.ok:
        raise OutputError(f"--model {model_dir}: not the model run {run_dir} audited ({outcome.message})")
    form = read_export(model_dir).form
    if form not in EXPORT_FORMS:
        raise OutputError(
            f"--model {model_dir}: a {form} export is derived from the audited weights; monitor with the run's "
            "model cache (--cache-dir) instead"
        )
    return audited.load(model_dir)


def _reference_data(run_dir: Path, document: FindingsDocument, spec: Spec) -> PreparedData:
    """The run's data as it prepared it, from the file its provenance names, which must still hash as it did."""
    provenance = document["provenance"]
    path = Path(provenance["data_path"])
    if not path.is_file():
        raise OutputError(f"{run_dir}: the run's data file {path} is gone; the reference is its test split")
    if sha256_file(path) != provenance["data_sha256"]:
        raise OutputError(
            f"{path}: no longer the file run {provenance['run_id']} audited (its SHA-256 changed); the reference "
            "is the run's test split of that very file"
        )
    data_spec = spec.data.model_copy(update={"source": str(path)})
    return prepare(data_spec, base_dir=path.parent)


def _gates(texts: list[str] | None, spec: Spec, findings: Findings, *, where: Path) -> list[Gate]:
    """``--gate``, else the spec's ``monitor.gates``, else no PSI's lower bound in the shift band; each must
    name a figure the monitor produced (exit 2 otherwise)."""
    paths = list(findings.metrics())
    if texts is None and spec.monitor.gates is None:
        return [parse_gate(f"{p}.ci_low <= {SHIFTED:g}") for p in paths if p.endswith(".psi")]
    chosen = texts if texts is not None else spec.monitor.gates or []
    gates, problems = parse_gates(chosen, {"monitor": paths}, replicas=False, where=Path("--gate") if texts else where)
    if problems:
        raise SpecError(problems)
    return gates


def _provenance(
    audited: AuditedModel, current: PreparedData, clock: StageClock, *, command: str, seed: int
) -> Provenance:
    """The run's spec and model, the current file as the data; the id says it is a monitoring report."""
    run = audited.document["provenance"]
    now = datetime.now(timezone.utc)
    data_sha256 = sha256_file(current.source_path)
    return Provenance(
        run_id=f"{now:%Y%m%dT%H%M%SZ}-monitor-{sha256_json([run['run_id'], data_sha256])[:8]}",
        timestamp=now.isoformat(timespec="seconds"),
        command=command,
        spec_path=run["spec_path"],
        spec_sha256=run["spec_sha256"],
        data_path=str(current.source_path),
        data_sha256=data_sha256,
        base_model=run["base_model"],
        base_model_sha256=run["base_model_sha256"],
        weights_sha256=audited.weights_sha256,
        seed=seed,
        stages=tuple(clock.stages),
    )


def _document(
    spec: Spec,
    audited: AuditedModel,
    *,
    run_dir: Path,
    current: PreparedData,
    labelled: bool,
    findings: Findings,
    results: list[GateResult],
    provenance: Provenance,
    seconds: float,
    model: str,
    reference_rows: int,
) -> FindingsDocument:
    """A run's findings document with the monitoring section, the current rows as its data and the run it
    compares against."""
    document = build_document(
        spec=spec,
        data=current,
        record=audited.training,
        findings=findings,
        gate_results=results,
        provenance=provenance,
        seconds=seconds,
        role="monitor",
    )
    if not labelled:
        document["data"]["favourable_share"] = None
    document["monitored_run"] = {
        "run_id": audited.document["provenance"]["run_id"],
        "run_dir": str(run_dir.resolve()),
        "weights_sha256": audited.weights_sha256,
        "model": model,
        "reference_rows": reference_rows,
    }
    return document
