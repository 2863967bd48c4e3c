"""Report stage: findings.json, predictions.csv and a self-contained report.html.

Everything is written into a hidden staging directory that is renamed into
place only when complete, so an interrupted or failed run leaves no half report.
The template lays out findings; it computes nothing.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from fmaudit.findings import Findings
from fmaudit.gates import GateResult
from fmaudit.plugins.base import Predictions
from fmaudit.provenance import Provenance

if TYPE_CHECKING:
    from fmaudit.pipeline import Plan
    from fmaudit.training import TrainingRecord

TEMPLATE = "report.html.j2"


def template_dir() -> Path:
    """Templates ship inside the wheel as fmaudit/templates; in a checkout they live in ./templates."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / TEMPLATE).is_file():
            return candidate
    raise FileNotFoundError(f"{TEMPLATE} not found beside the fmaudit package")


def build_document(
    *,
    plan: Plan,
    record: TrainingRecord,
    findings: Findings,
    gate_results: list[GateResult],
    provenance: Provenance,
    seconds: float,
) -> dict[str, Any]:
    """The machine-readable twin of the report (findings.json); the HTML renders from it too."""
    spec = plan.loaded.spec
    data = plan.data
    return {
        "fmaudit_report": 1,
        "name": spec.name,
        "description": spec.description,
        "verdict": "pass" if all(g.passed for g in gate_results) else "fail",
        "gates": [
            {"gate": g.gate.text, "observed": g.observed, "passed": g.passed, "reason": g.reason} for g in gate_results
        ],
        "metrics": findings.to_tree(),
        "sections": findings.to_dict()["sections"],
        "training": asdict(record),
        "data": {
            "source": str(data.source_path),
            "rows": data.n_rows,
            "train_rows": len(data.train_idx),
            "test_rows": len(data.test_idx),
            "favourable_label": str(spec.data.positive),
            "favourable_share": float(data.labels.mean()),
            "group_sizes": data.group_sizes(),
            "template": spec.data.template,
            "example_text": data.texts[int(data.test_idx[0])],
        },
        "provenance": asdict(provenance),
        "resolved_spec": spec.model_dump(mode="json"),
        "seconds": round(seconds, 1),
    }


def predictions_frame(plan: Plan, predictions: Predictions) -> pd.DataFrame:
    """One row per test example: enough to recompute every figure independently."""
    frame = pd.DataFrame(
        {
            "row_id": predictions.row_ids,
            "label": predictions.labels,
            "score": predictions.scores,
            "decision": predictions.decisions,
        }
    )
    groups = plan.data.sensitive.iloc[predictions.row_ids].reset_index(drop=True)
    return pd.concat([frame, groups], axis=1)


def render_html(document: dict[str, Any]) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(template_dir()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _format_number
    env.filters["log10"] = math.log10  # log-scaled chart axes
    document = {**document, "resolved_spec_yaml": yaml.safe_dump(document["resolved_spec"], sort_keys=False)}
    return env.get_template(TEMPLATE).render(**document)


def write_report(
    out_root: Path,
    *,
    plan: Plan,
    predictions: Predictions,
    record: TrainingRecord,
    findings: Findings,
    gate_results: list[GateResult],
    provenance: Provenance,
    seconds: float,
) -> Path:
    """Write the three report files atomically; return the final directory."""
    document = build_document(
        plan=plan, record=record, findings=findings, gate_results=gate_results, provenance=provenance, seconds=seconds
    )
    final = out_root / provenance.run_id
    staging = out_root / f".{provenance.run_id}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        (staging / "findings.json").write_text(json.dumps(document, indent=2, allow_nan=False), encoding="utf-8")
        predictions_frame(plan, predictions).to_csv(staging / "predictions.csv", index=False)
        (staging / "report.html").write_text(render_html(document), encoding="utf-8")
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _format_number(value: Any, digits: int = 3) -> str:
    """Numbers for people: thousands separators for counts, fixed decimals otherwise (1.0 stays 1.000, a rate)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 2):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)
