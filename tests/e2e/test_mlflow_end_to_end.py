"""``fmaudit run --mlflow-uri``: a one-epoch tabular audit logged to a local file store, read back through MLflow's
own client against the run's findings.json; the gate verdict still decides the exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient

from fmaudit.core.errors import ExitCode
from fmaudit.engine.planning import plan
from fmaudit.report.document import load_document
from fmaudit.report.mlflow_log import metric_key
from fmaudit.report.reading import figures
from tests.support.runs import run_cli
from tests.support.specs import tabular_spec


@pytest.mark.slow
def test_a_run_logs_its_headline_figures_gates_and_files(
    spec_dict: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    spec = tabular_spec(spec_dict)
    spec["training"]["epochs"] = 1
    spec["audits"] = {"performance": {"n_boot": 20}, "fairness": {"n_boot": 20, "min_group_size": 5}}
    spec["gates"] = ["performance.accuracy >= 0", "performance.accuracy > 2"]  # one passes, one cannot
    spec["output"] = {"formats": ["md", "junit"], "mlflow": {"experiment": "from-the-spec"}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    store = (tmp_path / "store").as_uri()
    args = ["run", str(path), "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    code, stdout = run_cli([*args, "--mlflow-uri", store])
    assert code == ExitCode.GATES_FAILED, stdout
    [report_dir] = (tmp_path / "out" / "tiny").iterdir()
    findings = load_document(report_dir)

    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("from-the-spec")
    assert experiment is not None
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == report_dir.name
    known = figures(findings)
    headline = plan(path).headline_paths
    measured = [p for p in headline if known.get(p) is not None and known[p].value is not None]
    assert measured and all(run.data.metrics[metric_key(p)] == known[p].value for p in measured)
    assert not {metric_key(p) for p in headline if p not in measured} & set(run.data.metrics)  # never a stand-in
    assert run.data.tags["fmaudit.verdict"] == "fail" and run.data.params["model.kind"] == "tabular"
    assert {k: v for k, v in run.data.tags.items() if k.startswith("gate.")} == {
        "gate.performance.accuracy.ge_0": "passed",
        "gate.performance.accuracy.gt_2": "failed",
    }
    assert run.data.metrics["gate.performance.accuracy.gt_2"] == known["performance.accuracy"].value
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {p.name for p in report_dir.iterdir()}
