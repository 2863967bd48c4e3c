"""The machine-readable twin of the report (findings.json) and the per-row predictions behind it.

Every output format renders from this one document, so a figure reads the same everywhere.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from fmaudit.core.errors import OutputError
from fmaudit.core.findings import Findings
from fmaudit.core.provenance import Provenance
from fmaudit.metrics.gates import GateResult
from fmaudit.plugins.base import ComparedModel, Predictions
from fmaudit.report.schema import FindingsDocument

if TYPE_CHECKING:
    from fmaudit.data import PreparedData
    from fmaudit.metrics.seed_spread import SeedSpread
    from fmaudit.spec import Spec
    from fmaudit.training.records import TrainingRecord

SCHEMA_VERSION = 2
"""findings.json's layout version (its ``fmaudit_report`` key). 2: tables say whether their rows are applicants'
own content, and the document says whether it is redacted."""
FINDINGS = "findings.json"
TWIN_DIR = "twin"
"""Where the non-private twin's own report goes, inside the audited model's report directory."""


def build_document(
    *,
    spec: Spec,
    data: PreparedData,
    record: TrainingRecord,
    findings: Findings,
    gate_results: list[GateResult],
    provenance: Provenance,
    seconds: float,
    compared: tuple[ComparedModel, ...] = (),
    role: Literal["audited", "twin"] = "audited",
    spread: SeedSpread | None = None,
) -> FindingsDocument:
    """The machine-readable twin of the report (findings.json); the HTML renders from it too.

    ``role`` is "audited" for the model the gates judge, "twin" for its non-private twin's own report.
    ``spread``: the figures across seed replicas (``training.seed_replicas``), as the ``replicas`` section.
    """
    return {
        "fmaudit_report": SCHEMA_VERSION,
        "name": spec.name,
        "role": role,
        "redacted": False,
        "description": spec.description,
        # Gates judge only the audited model; the twin's report carries no verdict rather than a vacuous "pass".
        "verdict": None if role == "twin" else "pass" if all(g.passed for g in gate_results) else "fail",
        "gates": [
            {"gate": g.gate.text, "observed": g.observed, "passed": g.passed, "reason": g.reason, "caution": g.caution}
            for g in gate_results
        ],
        "metrics": findings.to_tree(),
        "sections": findings.to_dict()["sections"],
        "training": asdict(record),
        "compared_models": [
            {
                "role": model.role,
                "label": model.label,
                "report": f"{TWIN_DIR}/report.html" if model.role == "twin" else None,
                "training": asdict(model.training),
            }
            for model in compared
        ],
        "replicas": spread.to_dict() if spread is not None else None,
        "data": {
            "source": shown_path(data.source_path, spec_path=Path(provenance.spec_path)),
            "rows": data.n_rows,
            "train_rows": len(data.train_idx),
            "test_rows": len(data.test_idx),
            "favourable_label": ", ".join(spec.data.favourable_values),
            "favourable_share": float(data.labels.mean()),
            "group_sizes": data.group_sizes(),
            "template": spec.data.template,
            "example_text": data.texts[int(data.test_idx[0])],
        },
        "provenance": asdict(provenance),
        "resolved_spec": spec.model_dump(mode="json"),
        "seconds": round(seconds, 1),
    }


def shown_path(path: Path, *, spec_path: Path) -> str:
    """A data file as the report shows it: resolved (no ``..``), and relative to the spec's directory when it
    lies there or below, so a report names the file a reader of the spec would look for."""
    resolved, base = path.resolve(), spec_path.resolve().parent
    return str(resolved.relative_to(base)) if resolved.is_relative_to(base) else str(resolved)


def document_json(document: FindingsDocument) -> str:
    """findings.json's exact text: written once by the run and identically by every re-render."""
    return json.dumps(document, indent=2, allow_nan=False)


def load_document(path: Path) -> FindingsDocument:
    """Read a run's findings.json (``path`` is the file or its run directory); exit 2 on another schema version."""
    file = path / FINDINGS if path.is_dir() else path
    if not file.is_file():
        raise OutputError(f"{file}: no such file (expected a run directory holding {FINDINGS})")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OutputError(f"{file}: not valid JSON: {exc}") from exc
    version = document.get("fmaudit_report") if isinstance(document, dict) else None
    if version != SCHEMA_VERSION:
        raise OutputError(
            f"{file}: findings schema version {version!r}; this fmaudit reads version {SCHEMA_VERSION} "
            "(re-render it with the fmaudit version that wrote it, or re-run the audit)"
        )
    return document


def predictions_frame(data: PreparedData, predictions: Predictions) -> pd.DataFrame:
    """One row per test example: enough to recompute every figure independently."""
    frame = pd.DataFrame(
        {
            "row_id": predictions.row_ids,
            "label": predictions.labels,
            "score": predictions.scores,
            "decision": predictions.decisions,
        }
    )
    groups = data.sensitive.iloc[predictions.row_ids].reset_index(drop=True)
    return pd.concat([frame, groups], axis=1)


def table_csvs(document: FindingsDocument) -> dict[str, bytes]:
    """Every table that asks for one (``csv_name``) as CSV bytes by file name: all its rows, as in the document."""
    files = {}
    for section in document["sections"]:
        for table in section["tables"]:
            if table.get("csv_name"):
                text = io.StringIO()
                writer = csv.writer(text, lineterminator="\n")
                writer.writerow(table["columns"])
                writer.writerows(table["rows"])
                files[table["csv_name"]] = text.getvalue().encode("utf-8")
    return files
