"""A run's outputs written from hand-made findings on the real German Credit data: every part a report lays out
(intervals, bar and line charts, an applicant-level table, a highlight, a failing gate), without training."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from fmaudit.core.findings import (
    Bar,
    BarChart,
    Estimate,
    Findings,
    Highlight,
    LineChart,
    Metric,
    PluginFindings,
    Table,
    Token,
)
from fmaudit.core.provenance import Provenance
from fmaudit.data import PreparedData, prepare
from fmaudit.metrics.gates import evaluate, parse_gate
from fmaudit.plugins.base import Predictions
from fmaudit.report.document import build_document
from fmaudit.report.write import OutputOptions, write_report
from fmaudit.spec import Spec
from fmaudit.training.records import TrainingRecord
from tests.support.specs import GERMAN_CREDIT_SPEC, REPO

GATES = ("performance.accuracy >= 0.5", "fairness.sex.demographic_parity_ratio.ci_low >= 0.9")
"""The first passes, the second fails (its lower bound is 0.7)."""


def synthetic_findings(data: PreparedData, accuracy: float = 0.74) -> Findings:
    test = [int(i) for i in data.test_idx[:3]]
    performance = PluginFindings(
        plugin="performance",
        title="Performance",
        summary=f"Accuracy {accuracy:.3f}.",
        metrics=(
            Metric("performance.accuracy", accuracy, "Accuracy", "higher", accuracy - 0.05, accuracy + 0.05),
            Metric("performance.roc_auc", 0.78, "ROC AUC", "higher", 0.72, 0.84),
            Metric("performance.ece", 0.05, "Expected calibration error", "lower"),
            Metric(
                "performance.calibration.by_group.sex_x_age_group.female_25_and_over.expected_calibration_error_gap",
                0.01,
                "ECE gap",
                "lower",
                note="a long path and a note, side by side in the metrics table",
            ),
        ),
        tables=(
            Table("Test-split figures", ("Figure", "Model"), (("Accuracy", Estimate(accuracy, 0.69, 0.79)),)),
            Table(  # wider than a printed page unless its cells wrap
                "Every figure by every field",
                ("Field", *(f"status_of_existing_checking_account_{i}" for i in range(9))),
                tuple((f"field_{r}", *(Estimate(0.123456, 0.0, 1.0) for _ in range(9))) for r in range(3)),
            ),
        ),
        charts=(LineChart("ROC", "FPR", "TPR", (("model", (0.0, 0.2, 1.0), (0.0, 0.7, 1.0)),), diagonal=True),),
    )
    fairness = PluginFindings(
        plugin="fairness",
        title="Fairness",
        summary="sex: demographic parity ratio 0.85 [0.70, 0.99].",
        metrics=(
            Metric("fairness.sex.demographic_parity_ratio", 0.85, "DP ratio", "higher", 0.70, 0.99),
            Metric("fairness.sex.groups.female.selection_rate", 0.59, "Selection rate", "none", 0.49, 0.69),
            Metric("fairness.sex.groups.male.selection_rate", 0.70, "Selection rate", "none", 0.63, 0.76),
        ),
        tables=(
            Table(
                "Largest counterfactual score shifts",
                ("Attribute", "Row", "Input", "Score"),
                tuple(("sex", row, data.texts[row], 0.5) for row in test),
                applicant_rows=True,
            ),
        ),
        charts=(
            BarChart(
                "Selection rate by sex",
                (
                    Bar("female (n=104)", 0.59, "", 0.49, 0.69),
                    Bar("male (n=196)", 0.70, "", 0.63, 0.76),
                    Bar("unknown (n=3)", 0.33, "excluded", 0.0, 1.0),
                ),
                unit="share",
                reference=0.56,
            ),
        ),
        highlights=(
            Highlight(f"Row {test[0]}", tuple(Token(word + " ", 0.5) for word in data.texts[test[0]].split())),
        ),
        notes=("Intervals: 95% percentile bootstrap.",),
    )
    return Findings((performance, fairness))


def spec(**output: Any) -> Spec:
    raw = copy.deepcopy(GERMAN_CREDIT_SPEC)
    raw["gates"] = list(GATES)
    raw["output"] = output or "reports"
    return Spec.model_validate(raw)


def synthetic_inputs(accuracy: float = 0.74) -> dict[str, Any]:
    """Everything ``write_report`` takes besides where and how: spec, data, predictions, findings, gates."""
    the_spec = spec()
    data = prepare(the_spec.data, base_dir=REPO)
    scores = np.random.default_rng(0).random(len(data.test_idx))
    predictions = Predictions(np.asarray(data.test_idx), data.labels[data.test_idx], scores)
    findings = synthetic_findings(data, accuracy)
    record = TrainingRecord(
        base_model="tiny",
        base_model_dir="",
        base_model_sha256="b" * 64,
        cache_key="c" * 32,
        weights_sha256="w" * 64,
        seconds=1.0,
        epoch_losses=[0.6],
        trainable_parameters=10,
        total_parameters=20,
        trained_modules=["head"],
        settings={
            "optimizer": "adamw",
            "epochs": 1,
            "batch_size": 32,
            "learning_rate": 0.001,
            "head_learning_rate": 0.01,
            "train_layers": 0,
            "class_weight": "none",
            "max_length": 64,
            "seed": 0,
        },
        training_rows=len(data.train_idx),
        rows_sha256="r" * 64,
    )
    provenance = Provenance(
        run_id=f"20260101T000000Z-{int(accuracy * 1000)}",
        timestamp="2026-01-01T00:00:00+00:00",
        command="test",
        spec_path="spec.yaml",
        spec_sha256="s" * 64,
        data_path=str(data.source_path),
        data_sha256="d" * 64,
        base_model="tiny",
        base_model_sha256="b" * 64,
        weights_sha256="w" * 64,
        seed=0,
        versions={"fmaudit": "0.1.0"},
        platform="test",
    )
    return {
        "spec": the_spec,
        "data": data,
        "predictions": predictions,
        "record": record,
        "findings": findings,
        "gate_results": evaluate([parse_gate(g) for g in GATES], findings.metrics()),
        "provenance": provenance,
        "seconds": 2.0,
    }


def synthetic_document() -> dict[str, Any]:
    """The findings document of the synthetic run."""
    inputs = synthetic_inputs()
    del inputs["predictions"]
    return build_document(**inputs)


def write_synthetic_run(out_root: Path, options: OutputOptions, *, accuracy: float = 0.74) -> Path:
    return write_report(out_root, options=options, **synthetic_inputs(accuracy))
