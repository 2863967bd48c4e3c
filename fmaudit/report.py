"""Report stage: findings.json, predictions.csv and a self-contained report.html.

Everything is written into a hidden staging directory that is renamed into
place only when complete, so an interrupted or failed run leaves no half report.
The template lays out findings; it computes nothing.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from fmaudit.findings import Findings
from fmaudit.gates import GateResult
from fmaudit.plugins.base import ComparedModel, Predictions
from fmaudit.provenance import Provenance

if TYPE_CHECKING:
    from fmaudit.pipeline import Plan
    from fmaudit.training import TrainingRecord

TEMPLATE = "report.html.j2"
TWIN_DIR = "twin"
"""Where the non-private twin's own report goes, inside the audited model's report directory."""


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
    compared: tuple[ComparedModel, ...] = (),
    role: str = "audited",
) -> dict[str, Any]:
    """The machine-readable twin of the report (findings.json); the HTML renders from it too.

    ``role`` is "audited" for the model the gates judge, "twin" for its non-private twin's own report.
    """
    spec = plan.loaded.spec
    data = plan.data
    return {
        "fmaudit_report": 1,
        "name": spec.name,
        "role": role,
        "description": spec.description,
        # Gates judge only the audited model; the twin's report carries no verdict rather than a vacuous "pass".
        "verdict": None if role == "twin" else "pass" if all(g.passed for g in gate_results) else "fail",
        "gates": [
            {"gate": g.gate.text, "observed": g.observed, "passed": g.passed, "reason": g.reason} for g in gate_results
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
    env.filters["plot"] = line_chart_geometry
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
    compared: tuple[ComparedModel, ...] = (),
) -> Path:
    """Write the report files atomically, with the twin's own report in ``twin/``; return the final directory."""
    document = build_document(
        plan=plan,
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
        _write_files(staging, document, plan, predictions)
        for model in compared:
            if model.role != "twin":
                continue
            twin_document = build_document(
                plan=plan,
                record=model.training,
                findings=model.findings,
                gate_results=[],
                provenance=replace(provenance, weights_sha256=model.training.weights_sha256),
                seconds=seconds,
                role="twin",
            )
            (staging / TWIN_DIR).mkdir()
            _write_files(staging / TWIN_DIR, twin_document, plan, model.predictions)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _write_files(directory: Path, document: dict[str, Any], plan: Plan, predictions: Predictions) -> None:
    (directory / "findings.json").write_text(json.dumps(document, indent=2, allow_nan=False), encoding="utf-8")
    predictions_frame(plan, predictions).to_csv(directory / "predictions.csv", index=False)
    (directory / "report.html").write_text(render_html(document), encoding="utf-8")


PLOT = {"width": 760, "height": 300, "left": 56, "right": 230, "top": 12, "bottom": 44}
PALETTE = ("#3c6fd1", "#c2185b", "#1c7c45", "#e07b00", "#6a4fb3", "#00838f", "#8d6e63")


def line_chart_geometry(chart: dict[str, Any]) -> dict[str, Any]:
    """Pixel geometry of a LineChart (polylines, ticks, legend) for the template's inline SVG.

    Layout only: values are mapped to the plot area and clamped to the axis range (so FPR = 0 sits at the
    left edge of a log axis), never changed. A few distinct x values are each labelled; otherwise the axis
    gets evenly spaced ticks (powers of ten on a log axis).
    """
    series = [(name, list(xs), list(ys)) for name, xs, ys in chart["series"]]
    xs_all = [x for _, xs, _ in series for x in xs]
    ys_all = [y for _, _, ys in series for y in ys]
    log = chart["log_x"]
    positive = [x for x in xs_all if x > 0]
    x_lo = chart["x_min"] if chart["x_min"] is not None else min(positive if log else xs_all, default=0.1 if log else 0)
    x_hi = chart["x_max"] if chart["x_max"] is not None else max(xs_all, default=1.0)
    y_lo = chart["y_min"] if chart["y_min"] is not None else min(ys_all, default=0.0)
    y_hi = chart["y_max"] if chart["y_max"] is not None else max(ys_all, default=1.0)
    if x_hi <= x_lo:
        x_lo, x_hi = (x_lo / 2, x_hi * 2) if log else (x_lo - 0.5, x_hi + 0.5)
    if y_hi <= y_lo:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
    w = PLOT["width"] - PLOT["left"] - PLOT["right"]
    h = PLOT["height"] - PLOT["top"] - PLOT["bottom"]

    def fx(x: float) -> float:
        x = min(max(x, x_lo), x_hi)
        if log:
            share = (math.log10(x) - math.log10(x_lo)) / (math.log10(x_hi) - math.log10(x_lo))
        else:
            share = (x - x_lo) / (x_hi - x_lo)
        return round(PLOT["left"] + share * w, 1)

    def fy(y: float) -> float:
        y = min(max(y, y_lo), y_hi)
        return round(PLOT["top"] + (1 - (y - y_lo) / (y_hi - y_lo)) * h, 1)

    distinct = sorted(set(xs_all))
    if len(distinct) <= 12 and not log:
        x_ticks = distinct
    elif log:  # powers of ten, and the ends of the axis when they are not near one
        powers = range(math.ceil(math.log10(x_lo) - 1e-9), math.floor(math.log10(x_hi) + 1e-9) + 1)
        x_ticks = [10.0**k for k in powers]
        x_ticks += [end for end in (x_lo, x_hi) if all(abs(math.log10(end / t)) > 0.3 for t in x_ticks)]
    else:
        x_ticks = [x_lo + i * (x_hi - x_lo) / 4 for i in range(5)]
    y_ticks = [y_lo + i * (y_hi - y_lo) / 4 for i in range(5)]
    dashed = set(chart["dashed"])
    lines = [
        {
            "label": name,
            "dashed": name in dashed,
            "colour": PALETTE[i % len(PALETTE)],
            "points": " ".join(f"{fx(x)},{fy(y)}" for x, y in zip(xs, ys, strict=True)),
            "marks": [(fx(x), fy(y)) for x, y in zip(xs, ys, strict=True)] if len(xs) <= 20 else [],
        }
        for i, (name, xs, ys) in enumerate(series)
    ]
    diagonal = ""
    if chart["diagonal"]:
        grid = [x_lo * (x_hi / x_lo) ** (i / 40) for i in range(41)] if log else [x_lo, x_hi]
        diagonal = " ".join(f"{fx(x)},{fy(x)}" for x in grid if y_lo <= x <= y_hi)
    return {
        **PLOT,
        "x_axis": [(fx(t), _tick(t)) for t in x_ticks],
        "y_axis": [(fy(t), _tick(t)) for t in y_ticks],
        "lines": lines,
        "diagonal": diagonal,
        "plot_right": PLOT["width"] - PLOT["right"],
        "plot_bottom": PLOT["height"] - PLOT["bottom"],
    }


def _tick(value: float) -> str:
    """Whole numbers as integers, others to three significant figures."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


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
