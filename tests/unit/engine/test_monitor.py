"""``fmaudit monitor`` from the command line on a run whose audited model (an untrained MLP) is in a model cache:
no drift on the run's own test split, the shift it was given on a shifted sample, values the run never saw
reported, and bad input refused with exit 2 naming the file and the column."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fmaudit.cli import main
from fmaudit.core.errors import ExitCode
from fmaudit.report.document import FINDINGS
from fmaudit.report.manifest import MANIFEST, build_manifest
from tests.support.exports import CachedRun, cached_run, random_mlp


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> CachedRun:
    return cached_run(
        tmp_path_factory.mktemp("monitored"),
        random_mlp,
        model={"kind": "tabular", "hidden": [8]},
        training={},
        formats=("html", "md", "junit"),
        monitor={"n_boot": 200},
    )


def monitor(run: CachedRun, current: Path, *extra: str) -> tuple[int, str, str, dict[str, Any] | None]:
    """Exit code, stdout, stderr and the monitoring report's findings.json (None when none was written)."""
    out, err = io.StringIO(), io.StringIO()
    target = current.parent / f"report-{current.stem}"
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            ["monitor", str(run.run_dir), str(current), "--cache-dir", str(run.cache_dir), "--out", str(target), *extra]
        )
    written = sorted(target.glob(f"*/{FINDINGS}"))
    findings = json.loads(written[-1].read_text()) if written else None
    return code, out.getvalue(), err.getvalue(), findings


def own_test_split(run: CachedRun) -> pd.DataFrame:
    return run.data.frame.iloc[run.data.test_idx].reset_index(drop=True)


def metric(findings: dict[str, Any], path: str) -> dict[str, Any]:
    node = findings["metrics"]
    for part in path.split("."):
        node = node[part]
    return node


def section(findings: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in findings["sections"] if s["plugin"] == "monitor")


def table(findings: dict[str, Any], title: str) -> dict[str, Any]:
    return next(t for t in section(findings)["tables"] if t["title"].startswith(title))


def test_the_runs_own_test_split_shows_no_drift(run: CachedRun, tmp_path: Path) -> None:
    path = tmp_path / "same.csv"
    own_test_split(run).to_csv(path, index=False)
    code, stdout, _, findings = monitor(run, path)
    assert code == ExitCode.OK, stdout
    assert findings is not None and findings["role"] == "monitor" and findings["verdict"] == "pass"
    assert findings["monitored_run"]["run_id"] == "20260101T000000Z-740"
    assert findings["monitored_run"]["reference_rows"] == len(run.data.test_idx) == findings["data"]["rows"]
    # The same rows through the same model: every index and every change is exactly nothing.
    assert metric(findings, "monitor.score.psi")["value"] == metric(findings, "monitor.score.psi")["ci_low"] == 0.0
    for field in ("duration_in_month", "credit_history", "age_in_years"):
        assert metric(findings, f"monitor.fields.{field}.psi")["value"] == 0.0
    assert metric(findings, "monitor.performance.roc_auc.change")["value"] == 0.0
    assert metric(findings, "monitor.fairness.sex.demographic_parity_ratio.change")["value"] == 0.0
    # The default gates: one per PSI, on its lower bound, against the shift band.
    assert [g["gate"] for g in findings["gates"]][:2] == [
        "monitor.score.psi.ci_low <= 0.25",
        "monitor.fields.status_of_existing_checking_account.psi.ci_low <= 0.25",
    ]
    html = (Path(stdout.split("report: ")[1].strip())).read_text()
    assert "Monitoring report: tiny" in html and "20260101T000000Z-740" in html


def test_a_shifted_sample_reports_the_shift_it_was_given(run: CachedRun, tmp_path: Path) -> None:
    shifted = own_test_split(run)
    shifted["duration_in_month"] = shifted["duration_in_month"] + 36  # beyond every duration the run saw
    path = tmp_path / "shifted.csv"
    shifted.to_csv(path, index=False)
    code, stdout, _, findings = monitor(run, path)
    assert code == ExitCode.GATES_FAILED, stdout
    assert findings is not None
    failed = [g["gate"] for g in findings["gates"] if not g["passed"]]
    assert failed == ["monitor.fields.duration_in_month.psi.ci_low <= 0.25"]
    fields = table(findings, "Stability of each input field")
    assert fields["rows"][0][0] == "duration_in_month" and fields["rows"][0][3] == "shifted"
    assert all(row[3] == "stable" for row in fields["rows"][1:])
    # Every current duration lies in the reference's top decile: PSI by its definition, by hand.
    reference = run.data.frame["duration_in_month"].iloc[run.data.test_idx].to_numpy(dtype=float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
    ref = np.maximum(np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1) / 300, 1e-4)
    cur = np.maximum(np.bincount(np.full(300, len(edges)), minlength=len(edges) + 1) / 300, 1e-4)
    expected = float(np.sum((cur - ref) * np.log(cur / ref)))
    assert metric(findings, "monitor.fields.duration_in_month.psi")["value"] == pytest.approx(expected)


def test_a_declared_gate_judges_the_change_and_unknown_paths_are_refused(run: CachedRun, tmp_path: Path) -> None:
    path = tmp_path / "labelled.csv"
    own_test_split(run).to_csv(path, index=False)
    code, stdout, _, _ = monitor(run, path, "--gate", "monitor.performance.roc_auc.change.ci_low >= -0.2")
    assert code == ExitCode.OK, stdout
    code, _, stderr, _ = monitor(run, path, "--gate", "monitor.fields.duration.psi <= 0.1")
    assert code == ExitCode.INPUT_ERROR
    assert "--gate" in stderr and "'monitor.fields.duration.psi'" in stderr and "did you mean" in stderr


def test_values_the_run_never_saw_are_reported_and_labels_are_optional(run: CachedRun, tmp_path: Path) -> None:
    current = own_test_split(run).drop(columns=["creditability"])
    current.loc[:49, "credit_history"] = "new to credit"
    current.loc[:9, "personal_status_and_sex"] = "diverse"  # not in the sex map: the unknown group
    path = tmp_path / "unseen.csv"
    current.to_csv(path, index=False)
    code, stdout, _, findings = monitor(run, path)
    assert findings is not None, stdout
    unseen = table(findings, "Values the run never saw")["rows"]
    assert unseen == [["credit_history", "new to credit", 50], ["personal_status_and_sex", "diverse", 10]]
    assert metric(findings, "monitor.fairness.sex.groups.unknown.selection_rate")["value"] is not None
    assert "performance" not in findings["metrics"]["monitor"]  # no labels: no performance figures
    assert findings["data"]["favourable_share"] is None
    # A sixth of the rows in a category the run never had is a shift of that field, and only of that one.
    assert code == ExitCode.GATES_FAILED
    assert [g["gate"] for g in findings["gates"] if not g["passed"]] == [
        "monitor.fields.credit_history.psi.ci_low <= 0.25"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["credit_history"]), "column 'credit_history' is missing"),
        (lambda f: f.assign(score_band="A"), "column 'score_band' is not a column of the run's data"),
        (lambda f: f.assign(age_in_years="old"), "column 'age_in_years' holds text (e.g. 'old')"),
        (lambda f: f.assign(creditability="maybe"), "column 'creditability' (the label) holds ['maybe']"),
        (lambda f: f.iloc[:0], "has no rows"),
    ],
)
def test_unusable_current_data_is_exit_2_naming_the_file_and_column(
    run: CachedRun, tmp_path: Path, change: Any, message: str
) -> None:
    path = tmp_path / "bad.csv"
    change(own_test_split(run)).to_csv(path, index=False)
    code, _, stderr, findings = monitor(run, path)
    assert code == ExitCode.INPUT_ERROR and findings is None
    assert f"current data: {path}" in stderr and message in stderr


def test_a_run_of_another_schema_version_is_exit_2(run: CachedRun, tmp_path: Path) -> None:
    import shutil

    old = tmp_path / "old-run"
    shutil.copytree(run.run_dir, old)
    document = json.loads((old / FINDINGS).read_text())
    document["fmaudit_report"] = 1
    (old / FINDINGS).write_text(json.dumps(document))
    (old / MANIFEST).write_bytes(build_manifest(old, document))  # a consistent run, written by another version
    path = tmp_path / "same.csv"
    own_test_split(run).to_csv(path, index=False)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["monitor", str(old), str(path), "--cache-dir", str(run.cache_dir), "--out", str(tmp_path / "o")])
    assert code == ExitCode.INPUT_ERROR
    assert f"{old / FINDINGS}: findings schema version 1" in err.getvalue()


def test_an_export_of_the_audited_model_scores_as_the_cache_does(run: CachedRun, tmp_path: Path) -> None:
    from fmaudit.engine.export import export_run

    export_run(run.run_dir, tmp_path / "model", cache_dir=run.cache_dir)
    path = tmp_path / "same.csv"
    own_test_split(run).to_csv(path, index=False)
    code, stdout, _, findings = monitor(run, path, "--model", str(tmp_path / "model"))
    assert code == ExitCode.OK, stdout
    assert findings is not None and findings["monitored_run"]["model"] == str((tmp_path / "model").resolve())
    assert metric(findings, "monitor.score.psi")["value"] == 0.0
