"""Logging a run to MLflow: a synthetic run (hand-made findings, no training) logged to a real local file store and
read back through MLflow's own client; keys MLflow accepts; failures that end the MLflow run and keep the report."""

from __future__ import annotations

import copy
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import _validate_metric_name

from fmaudit.core.errors import OutputError
from fmaudit.report.document import load_document
from fmaudit.report.mlflow_log import (
    INSTALL,
    MlflowTarget,
    gate_names,
    log_run,
    metric_key,
    mlflow_record,
    mlflow_target,
    resolve_uri,
)
from fmaudit.report.write import OutputOptions
from fmaudit.spec import load_spec
from tests.support.specs import REPO
from tests.support.synthetic_run import write_synthetic_run

HEADLINE = (
    "performance.accuracy",
    "performance.ece",
    "fairness.sex.demographic_parity_ratio",
    "performance.not_produced",  # a headline figure the run lacks is left out, not logged as nothing
)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_run(tmp_path_factory.mktemp("run"), OutputOptions(("md", "junit")))


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local file store in tmp_path, opened as MLflow 3 allows it."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return resolve_uri("file:mlruns", tmp_path)


def test_a_run_reads_back_through_mlflows_own_client(report_dir: Path, store: str, no_network: list[str]) -> None:
    said: list[str] = []
    run_id = log_run(report_dir, MlflowTarget(store, "credit"), headline=HEADLINE, say=said.append)
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(run_id)
    assert (run.info.status, run.info.run_name) == ("FINISHED", "20260101T000000Z-740")
    assert client.get_experiment(run.info.experiment_id).name == "credit"
    assert said == [f"mlflow: run {run_id} in experiment 'credit' at {store}"]
    params = run.data.params
    assert params["model.base"] == "minilm" and params["model.kind"] == "text"
    assert (params["training.epochs"], params["training.train_layers"], params["training.batch_size"]) == (
        "1",
        "all",
        "32",
    )
    assert (params["data.source"], params["data.positive"], params["data.split.test_size"]) == (
        "builtin:german_credit",
        "good",
        "0.3",
    )
    assert "training.privacy" not in params and not any(k.startswith(("audits", "data.template")) for k in params)
    assert run.data.metrics == pytest.approx(
        {
            "performance.accuracy": 0.74,
            "performance.accuracy.ci_low": 0.69,
            "performance.accuracy.ci_high": 0.79,
            "performance.ece": 0.05,  # no interval: the figure alone
            "fairness.sex.demographic_parity_ratio": 0.85,
            "fairness.sex.demographic_parity_ratio.ci_low": 0.70,
            "fairness.sex.demographic_parity_ratio.ci_high": 0.99,
            "gate.performance.accuracy": 0.74,
            "gate.fairness.sex.demographic_parity_ratio.ci_low": 0.70,
        }
    )
    tags = run.data.tags
    assert tags["fmaudit.verdict"] == "fail" and tags["fmaudit.spec"] == "tiny"
    assert tags["gate.performance.accuracy"] == "passed"
    assert tags["gate.fairness.sex.demographic_parity_ratio.ci_low"] == "failed"
    assert (tags["fmaudit.spec_sha256"], tags["fmaudit.data_sha256"], tags["fmaudit.weights_sha256"]) == (
        "s" * 64,
        "d" * 64,
        "w" * 64,
    )
    assert tags["mlflow.note.content"] == "test run"
    assert {a.path for a in client.list_artifacts(run_id)} == {p.name for p in report_dir.iterdir()}
    copied = Path(client.download_artifacts(run_id, "findings.json", str(report_dir.parent / "downloaded")))
    assert copied.read_bytes() == (report_dir / "findings.json").read_bytes()
    assert no_network == []


def test_a_second_run_joins_the_experiment_the_first_created(report_dir: Path, store: str) -> None:
    first = log_run(report_dir, MlflowTarget(store, "credit"), headline=())
    second = log_run(report_dir, MlflowTarget(store, "credit"), headline=())
    client = MlflowClient(tracking_uri=store)
    assert client.get_run(first).info.experiment_id == client.get_run(second).info.experiment_id


def test_each_gate_is_a_tag_with_its_verdict_and_a_metric_with_its_reading(report_dir: Path) -> None:
    document: Any = copy.deepcopy(load_document(report_dir))
    document["gates"] += [
        {"gate": "performance.accuracy <= 0.9", "observed": 0.74, "passed": True, "reason": "", "caution": ""},
        {"gate": "performance.brier <= 0.2", "observed": None, "passed": False, "reason": "no figure", "caution": ""},
    ]
    record = mlflow_record(document, headline=())
    gates = {key: value for key, value in record.tags.items() if key.startswith("gate.")}
    assert gates == {
        # Two gates on one path are told apart by operator and threshold.
        "gate.performance.accuracy.ge_0.5": "passed",
        "gate.performance.accuracy.le_0.9": "passed",
        "gate.fairness.sex.demographic_parity_ratio.ci_low": "failed",
        "gate.performance.brier": "failed",
    }
    assert record.metrics == pytest.approx(
        {
            "gate.performance.accuracy.ge_0.5": 0.74,
            "gate.performance.accuracy.le_0.9": 0.74,
            "gate.fairness.sex.demographic_parity_ratio.ci_low": 0.70,
        }
    )  # a gate that read nothing has no metric, only its failed tag
    assert record.tags["fmaudit.verdict"] == "fail"


def test_gate_names_depend_only_on_the_gates_sharing_a_path() -> None:
    from fmaudit.metrics.gates import parse_gate

    gates = [parse_gate(text) for text in ("a.b >= 0.5", "a.b < 1e-05", "a.c == -1")]
    assert gate_names(gates) == ["a.b.ge_0.5", "a.b.lt_1e-05", "a.c"]


LONG = "performance." + "long_part." * 40


@pytest.mark.parametrize(
    ("path", "twin"),
    [
        ("fairness.age_group.groups.under 25.selection_rate", "fairness.age_group.groups.under_25.selection_rate"),
        ("fairness.age_group.groups.under/25.selection_rate", "fairness.age_group.groups.under 25.selection_rate"),
        ("fairness.sex.groups.femme (célibataire).rate", "fairness.sex.groups.femme (c_libataire).rate"),
        (LONG + "value", LONG + "other"),  # alike only past the length MLflow takes
    ],
)
def test_metric_keys_are_ones_mlflow_accepts_and_stay_distinct(path: str, twin: str) -> None:
    key = metric_key(path)
    _validate_metric_name(key)  # MLflow's own check: raises on a key it would refuse
    assert len(key) <= 250 and key == metric_key(path) and key != metric_key(twin)
    assert metric_key("fairness.sex_x_age_group.demographic_parity_ratio.ci_low") == (
        "fairness.sex_x_age_group.demographic_parity_ratio.ci_low"
    )


def test_an_unreachable_server_names_the_uri_and_keeps_the_report(
    report_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # refused at once, not after minutes of backoff
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{probe.getsockname()[1]}"
    before = sorted(p.name for p in report_dir.iterdir())
    with pytest.raises(OutputError) as caught:
        log_run(report_dir, MlflowTarget(uri, "credit"), headline=HEADLINE)
    first, last = str(caught.value).splitlines()
    assert first.startswith(f"MLflow at {uri} (experiment 'credit'): could not start a run: MlflowException: ")
    assert last == f"the report is written: {report_dir} (gates: fail)"
    assert sorted(p.name for p in report_dir.iterdir()) == before


def test_a_failure_after_the_run_started_ends_it_failed(report_dir: Path, store: str, tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=store)
    (tmp_path / "a-file").write_text("artifacts cannot go under a file")
    client.create_experiment("credit", artifact_location=(tmp_path / "a-file").as_uri())
    with pytest.raises(OutputError) as caught:
        log_run(report_dir, MlflowTarget(store, "credit"), headline=HEADLINE)
    [run] = client.search_runs([client.get_experiment_by_name("credit").experiment_id])  # type: ignore[union-attr]
    assert run.info.status == "FAILED"
    assert run.data.tags["fmaudit.logging_error"].startswith("NotADirectoryError: ")
    assert str(caught.value).startswith(
        f"MLflow at {store} (experiment 'credit'): run {run.info.run_id} marked FAILED: NotADirectoryError: "
    )


def test_a_deleted_experiment_is_refused_by_name(report_dir: Path, store: str) -> None:
    client = MlflowClient(tracking_uri=store)
    client.delete_experiment(client.create_experiment("retired"))
    with pytest.raises(OutputError) as caught:
        log_run(report_dir, MlflowTarget(store, "retired"), headline=HEADLINE)
    assert str(caught.value) == (
        f"MLflow at {store}: experiment 'retired' is deleted; restore it or name another (output.mlflow.experiment)"
    )


def test_a_stray_directory_in_the_store_logs_nothing(
    report_dir: Path, store: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "mlruns" / "not-an-experiment").mkdir(parents=True)  # MLflow logs a traceback for it to the root logger
    with caplog.at_level(logging.DEBUG):
        log_run(report_dir, MlflowTarget(store, "credit"), headline=())
    assert [r.getMessage() for r in caplog.records if f"{os.sep}mlflow{os.sep}" in r.pathname] == []


def test_the_target_comes_from_the_spec_beside_its_file(
    spec_dict: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "audits").mkdir()

    def target(output: Any, options: OutputOptions | None = None) -> MlflowTarget | None:
        spec_dict["output"] = output
        path = tmp_path / "audits" / "spec.yaml"
        path.write_text(__import__("yaml").safe_dump(spec_dict), encoding="utf-8")
        return mlflow_target(load_spec(path), options)

    assert target("reports") is None
    assert target({"mlflow": {}}) == MlflowTarget((tmp_path / "audits" / "mlruns").as_uri(), "tiny")
    assert target({"mlflow": {"tracking_uri": "file:../store", "experiment": "credit"}}) == MlflowTarget(
        (tmp_path / "store").as_uri(), "credit"
    )
    assert target({"mlflow": {"tracking_uri": "http://mlflow:5000"}}) == MlflowTarget("http://mlflow:5000", "tiny")
    flag = OutputOptions(("md",), mlflow_uri="http://other:5000")
    assert target({"mlflow": {"experiment": "credit"}}, flag) == MlflowTarget("http://other:5000", "credit")
    assert target("reports", flag) == MlflowTarget("http://other:5000", "tiny")  # the flag alone turns it on
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://from-env:5000")
    assert target({"mlflow": {}}) == MlflowTarget("http://from-env:5000", "tiny")


def test_a_file_store_without_mlflows_opt_in_stops_the_run_before_training(
    spec_dict: dict[str, Any], write_spec: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    spec_dict["output"] = {"mlflow": {"tracking_uri": "file:mlruns"}}
    path = write_spec(spec_dict)
    with pytest.raises(OutputError) as caught:
        mlflow_target(load_spec(path))
    assert str(caught.value) == (
        f"{path}: output.mlflow: {(tmp_path / 'mlruns').as_uri()} is a file store, which MLflow 3 opens only with "
        "MLFLOW_ALLOW_FILE_STORE=true in the environment (or log to a tracking server, http://host:5000)"
    )


def test_without_mlflow_installed_the_message_says_what_to_install(
    spec_dict: dict[str, Any], write_spec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # how an import system without the package answers
    spec_dict["output"] = {"mlflow": {"tracking_uri": "http://mlflow:5000"}}
    path = write_spec(spec_dict)
    with pytest.raises(OutputError) as caught:
        mlflow_target(load_spec(path))
    assert str(caught.value) == f"{path}: output.mlflow: logging to MLflow needs the mlflow package: {INSTALL}"


def test_a_plain_process_logs_offline_quietly_and_leaves_logging_alone(report_dir: Path, tmp_path: Path) -> None:
    """Outside pytest and CI (where MLflow turns its telemetry off itself), MLflow 3 would report usage over the
    network from the moment it is imported, and its file store would print a stray directory's traceback through a
    root logger it configures on the way."""
    code = (
        "import logging, sys, pytest; from pathlib import Path; from tests.support.network import guard_network; "
        "attempts = guard_network(pytest.MonkeyPatch()); "
        "from fmaudit.report.mlflow_log import MlflowTarget, log_run; "
        "log_run(Path(sys.argv[1]), MlflowTarget(sys.argv[2], 'offline'), headline=()); "
        "from mlflow.telemetry import get_telemetry_client; "
        "print(attempts, get_telemetry_client(), logging.getLogger().handlers)"
    )
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(REPO), "MLFLOW_ALLOW_FILE_STORE": "1"}
    (tmp_path / "mlruns" / "not-an-experiment").mkdir(parents=True)
    store = resolve_uri("mlruns", tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", code, str(report_dir), store], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "[] None []", "")
