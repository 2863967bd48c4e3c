"""The machine-readable twin of the report (findings.json) and the per-row predictions behind it.

Every output format renders from this one document, so a figure reads the same everywhere.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import pandas as pd

from fmaudit.core.errors import OutputError
from fmaudit.core.findings import Findings
from fmaudit.core.provenance import Provenance
from fmaudit.metrics.gates import GATE_PATTERN, GateResult
from fmaudit.plugins.base import ComparedModel, Predictions
from fmaudit.report.schema import FindingsDocument, json_kind

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
    role: Literal["audited", "twin", "monitor"] = "audited",
    spread: SeedSpread | None = None,
) -> FindingsDocument:
    """The machine-readable twin of the report (findings.json); the HTML renders from it too.

    ``role`` is "audited" for the model the gates judge, "twin" for its non-private twin's own report, "monitor"
    for the audited model on current rows (``fmaudit monitor``; ``data`` then describes those rows).
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
    """Read a run's findings.json (``path`` is the file or its run directory); exit 2 (an OutputError naming the
    file) when it is missing, unreadable, of another schema version or not of the shape ``shape_problem`` checks."""
    file = path / FINDINGS if path.is_dir() else path
    if not file.is_file():
        raise OutputError(f"{file}: no such file (expected a run directory holding {FINDINGS})")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OutputError(f"{file}: not valid JSON: {exc}") from exc
    except OSError as exc:
        raise OutputError(f"{file}: cannot be read: {exc.strerror or exc}") from exc
    if not isinstance(document, dict):
        raise OutputError(f"{file}: expected a findings document (a JSON object); got {json_kind(document)}")
    version = document.get("fmaudit_report")
    if version != SCHEMA_VERSION:
        raise OutputError(
            f"{file}: findings schema version {version!r}; this fmaudit reads version {SCHEMA_VERSION} "
            "(re-render it with the fmaudit version that wrote it, or re-run the audit)"
        )
    problem = shape_problem(document)
    if problem is not None:
        raise OutputError(f"{file}: {problem}")
    return cast(FindingsDocument, document)  # its shape checked above


DOCUMENT_KEYS = {
    "name": "a string",
    "role": "a string",
    "redacted": "a boolean",
    "description": "a string",
    "verdict": "a string or null",
    "gates": "an array",
    "metrics": "an object",
    "sections": "an array",
    "training": "an object",
    "compared_models": "an array",
    "replicas": "an object or null",
    "data": "an object",
    "provenance": "an object",
    "resolved_spec": "an object",
    "seconds": "a number",
}
"""findings.json's top-level keys and the JSON kind of each (``schema.FindingsDocument``)."""
GATE_KEYS = {"gate": "a string", "observed": "a number or null", "passed": "a boolean", "reason": "a string"}
METRIC_KEYS = {
    "value": "a number or null",
    "ci_low": "a number or null",
    "ci_high": "a number or null",
    "better": "a string",
    "label": "a string",
}


def shape_problem(document: dict[str, Any]) -> str | None:
    """The first place where a findings document of this schema version departs from its shape, as
    ``key.path: expected ...; got ...``; None when the parts every reader relies on are all there.

    A hand-edited or truncated findings.json is then an input error naming the key, not a KeyError deep inside
    a renderer or ``fmaudit diff``.
    """
    problem = _keys_problem(document, DOCUMENT_KEYS, "")
    if problem is not None:
        return problem
    run_id = document["provenance"].get("run_id")
    if not isinstance(run_id, str):
        return f"provenance.run_id: expected a string; got {json_kind(run_id)}"
    for index, gate in enumerate(document["gates"]):
        where = f"gates[{index}]"
        if not isinstance(gate, dict):
            return f"{where}: expected an object; got {json_kind(gate)}"
        problem = _keys_problem(gate, GATE_KEYS, f"{where}.")
        if problem is not None:
            return problem
        if GATE_PATTERN.match(gate["gate"]) is None:
            return f"{where}.gate: expected '<metric path> <op> <number>'; got {gate['gate']!r}"
    return _metrics_problem(document["metrics"], "metrics")


def _keys_problem(node: dict[str, Any], expected: dict[str, str], prefix: str) -> str | None:
    for key, kind in expected.items():
        if key not in node:
            return f"{prefix}{key}: missing; expected {kind}"
        if json_kind(node[key]) not in kind.split(" or "):
            return f"{prefix}{key}: expected {kind}; got {json_kind(node[key])}"
    return None


def _metrics_problem(node: dict[str, Any], where: str) -> str | None:
    """A node of the metrics tree is a metric (value, interval, better, label) or a group of metrics and groups."""
    if "value" in node or "better" in node:
        problem = _keys_problem(node, METRIC_KEYS, f"{where}.")
        if problem is not None:
            return problem
        children = {key: child for key, child in node.items() if isinstance(child, dict)}
    else:
        children = node
    for key, child in children.items():
        if not isinstance(child, dict):
            return f"{where}.{key}: expected a metric or a group of metrics (an object); got {json_kind(child)}"
        problem = _metrics_problem(child, f"{where}.{key}")
        if problem is not None:
            return problem
    return None


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
