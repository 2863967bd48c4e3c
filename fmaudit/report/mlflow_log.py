"""Logging a written run to MLflow (``output.mlflow``, ``run --mlflow-uri``; ``pip install 'fmaudit[mlflow]'``).

One MLflow run per audit: the spec's model, training and data settings as parameters; the headline figures (with
their interval bounds) and each gate's observed value as metrics; the verdict, each gate's outcome and the
provenance hashes as tags; the report directory's files as artifacts. Everything is read back from the written
findings.json, so MLflow shows what the report says.

The report is written first. A target that cannot work (MLflow not installed, a file store MLflow 3 refuses) is an
OutputError before any training; a failure while logging ends the MLflow run FAILED and raises an OutputError
naming the URI (exit 2), and the report stays where it was written.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from fmaudit.core.errors import OutputError
from fmaudit.metrics.gates import Gate
from fmaudit.report.document import load_document
from fmaudit.report.reading import figures, gate_outcomes
from fmaudit.report.schema import FindingsDocument
from fmaudit.spec import DEFAULT_MLFLOW_STORE, TEXT_ONLY_TRAINING, LoadedSpec

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from fmaudit.report.write import OutputOptions

INSTALL = "pip install 'fmaudit[mlflow]'"
FILE_STORE_SWITCH = "MLFLOW_ALLOW_FILE_STORE"
"""The environment variable without which MLflow 3 refuses to open a file store."""
TELEMETRY_SWITCH = "MLFLOW_DISABLE_TELEMETRY"
"""Set to true (unless already set) before MLflow is imported: its telemetry would reach out to the network."""
KEY_LIMIT = 250
"""MLflow's longest metric, parameter or tag key (``MAX_ENTITY_KEY_LENGTH``)."""
PARAM_VALUE_LIMIT = 500
"""The longest parameter value every tracking server accepts (MLflow 3 takes 6000, servers before 1.x's end 500)."""
BATCH_SIZE = 100
"""Parameters, tags and metrics per ``log_batch`` request: MLflow takes at most 100 parameters and 100 tags."""
DATA_PARAMS = ("source", "label", "positive", "split", "max_rows")
"""The data settings logged as parameters (the template, sensitive attributes and intersections are in the
report's findings.json, an artifact)."""
PROVENANCE_TAGS = ("run_id", "spec_sha256", "data_sha256", "base_model_sha256", "weights_sha256")
OP_WORDS = {">=": "ge", ">": "gt", "<=": "le", "<": "lt", "==": "eq"}
"""How a gate's operator reads in its key, where two gates share a metric path."""
UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
"""Characters outside the set every MLflow key allows on every platform (no space, colon or slash)."""


@dataclass(frozen=True)
class MlflowTarget:
    """Where one run is logged: a tracking URI (a relative file store already resolved) and an experiment."""

    tracking_uri: str
    experiment: str


@dataclass(frozen=True)
class MlflowRecord:
    """What one run logs, as plain data under MLflow-safe keys."""

    run_name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def mlflow_target(loaded: LoadedSpec, options: OutputOptions | None = None) -> MlflowTarget | None:
    """Where this spec's run is logged (``--mlflow-uri`` over ``output.mlflow``), or None when neither asks; an
    OutputError when it cannot work, so the run stops before any training rather than after it."""
    section = loaded.spec.output.mlflow
    override = options.mlflow_uri if options is not None else None
    if section is None and override is None:
        return None
    if override is not None:
        uri = override
    elif section is not None and section.tracking_uri is not None:
        uri = resolve_uri(section.tracking_uri, loaded.base_dir)
    elif os.environ.get("MLFLOW_TRACKING_URI"):
        uri = resolve_uri(os.environ["MLFLOW_TRACKING_URI"], Path.cwd())  # as MLflow itself reads it
    else:
        uri = resolve_uri(DEFAULT_MLFLOW_STORE, loaded.base_dir)
    experiment = section.experiment if section is not None and section.experiment else loaded.spec.name
    target = MlflowTarget(uri, experiment)
    problem = unusable(target)
    if problem is not None:
        raise OutputError(f"--mlflow-uri: {problem}" if override else f"{loaded.path}: output.mlflow: {problem}")
    return target


def resolve_uri(uri: str, base_dir: Path) -> str:
    """A local file store (``file:<dir>`` or a bare path) as an absolute ``file://`` URI, a relative one taken from
    ``base_dir``; any other URI as given."""
    parsed = urlparse(uri)
    if parsed.scheme == "file" and not parsed.netloc:
        path = unquote(parsed.path)
    elif not parsed.scheme:
        path = uri
    else:
        return uri
    return (base_dir / Path(path).expanduser()).resolve().as_uri()


def is_file_store(uri: str) -> bool:
    """Whether MLflow reads ``uri`` as a local file store (``file:`` or a bare path)."""
    return urlparse(uri).scheme in ("file", "")


def unusable(target: MlflowTarget) -> str | None:
    """Why logging to ``target`` would fail before a request is made, or None."""
    if importlib.util.find_spec("mlflow") is None:
        return f"logging to MLflow needs the mlflow package: {INSTALL}"
    if is_file_store(target.tracking_uri) and os.environ.get(FILE_STORE_SWITCH, "").lower() not in ("true", "1"):
        return (
            f"{target.tracking_uri} is a file store, which MLflow 3 opens only with {FILE_STORE_SWITCH}=true "
            "in the environment (or log to a tracking server, http://host:5000)"
        )
    return None


def log_run(
    report_dir: Path,
    target: MlflowTarget,
    *,
    headline: Sequence[str],
    say: Callable[[str], None] = lambda message: None,
) -> str:
    """Log the run written in ``report_dir`` to MLflow as one finished run; return its MLflow run id. A failure
    ends the MLflow run FAILED (with the reason in its ``fmaudit.logging_error`` tag) and raises an OutputError."""
    record = mlflow_record(load_document(report_dir), headline)
    verdict = record.tags["fmaudit.verdict"]
    # MLflow 3 starts sending usage telemetry when imported; fmaudit runs offline unless the user opts back in.
    os.environ.setdefault(TELEMETRY_SWITCH, "true")
    from mlflow.tracking import MlflowClient

    with _quiet_mlflow():
        client = MlflowClient(tracking_uri=target.tracking_uri)
        try:
            experiment_id = _experiment_id(client, target)
            run_id: str = client.create_run(experiment_id, run_name=record.run_name).info.run_id
        except OutputError:
            raise
        except Exception as exc:
            raise _failure(target, exc, what="could not start a run", report_dir=report_dir, verdict=verdict) from exc
        try:
            _send(client, run_id, record)
            client.log_artifacts(run_id, str(report_dir))
            client.set_terminated(run_id, "FINISHED")
        except BaseException as exc:
            _end_failed(client, run_id, exc)
            if not isinstance(exc, Exception):
                raise
            raise _failure(
                target, exc, what=f"run {run_id} marked FAILED", report_dir=report_dir, verdict=verdict
            ) from exc
    say(f"mlflow: run {run_id} in experiment {target.experiment!r} at {target.tracking_uri}")
    return run_id


def mlflow_record(document: FindingsDocument, headline: Sequence[str]) -> MlflowRecord:
    """The parameters, metrics and tags of one run's findings document; ``headline`` names the figures logged
    (each with its ``.ci_low`` / ``.ci_high`` where it has an interval)."""
    known = figures(document)
    metrics: dict[str, float] = {}
    for path in headline:
        figure = known.get(path)
        if figure is None:
            continue
        for suffix, value in (("", figure.value), (".ci_low", figure.ci_low), (".ci_high", figure.ci_high)):
            if value is not None:
                metrics[metric_key(path + suffix)] = float(value)
    provenance = document["provenance"]
    tags = {
        "fmaudit.spec": document["name"],
        "fmaudit.verdict": document["verdict"] or "none",
        "fmaudit.redacted": json.dumps(document["redacted"]),
        "fmaudit.version": str(provenance.get("versions", {}).get("fmaudit", "")),
        **{f"fmaudit.{key}": str(provenance[key]) for key in PROVENANCE_TAGS if key in provenance},
    }
    if document["description"]:
        tags["mlflow.note.content"] = document["description"]  # the run's description in MLflow's UI
    outcomes = gate_outcomes(document)
    for name, outcome in zip(gate_names([o.gate for o in outcomes]), outcomes, strict=True):
        tags[f"gate.{name}"] = "passed" if outcome.passed else "failed"
        if outcome.observed is not None:
            metrics[f"gate.{name}"] = float(outcome.observed)
    return MlflowRecord(str(provenance["run_id"]), spec_params(document["resolved_spec"]), metrics, tags)


def spec_params(spec: dict[str, Any]) -> dict[str, str]:
    """The resolved spec's model and training sections and its data source, label and split, flattened to dotted
    keys, each value as JSON text within MLflow's length limits. Unset values are left out, and so are a tabular
    model's defaults for a text encoder, which it does not read."""
    unread = set(TEXT_ONLY_TRAINING) | {"base", "pooling"} if spec["model"]["kind"] == "tabular" else set()
    chosen = {
        "model": {key: value for key, value in spec["model"].items() if key not in unread},
        "training": {key: value for key, value in spec["training"].items() if key not in unread},
        "data": {key: spec["data"][key] for key in DATA_PARAMS if key in spec["data"]},
    }
    flat: dict[str, str] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict):
                walk(value, path)
            elif value is not None:
                text = value if isinstance(value, str) else json.dumps(value)
                flat[metric_key(path)] = text if len(text) <= PARAM_VALUE_LIMIT else text[: PARAM_VALUE_LIMIT - 1] + "…"

    walk(chosen, "")
    return flat


def metric_key(path: str) -> str:
    """A metric path as an MLflow key: each run of characters other than letters, digits and ``_ . -`` becomes
    ``_``, and a path so changed (or longer than MLflow takes) ends in 8 hex digits of its SHA-256, so two paths
    never share a key."""
    key = UNSAFE.sub("_", path)
    if key == path and len(key) <= KEY_LIMIT:
        return key
    return f"{key[: KEY_LIMIT - 9]}-{hashlib.sha256(path.encode('utf-8')).hexdigest()[:8]}"


def gate_names(gates: Sequence[Gate]) -> list[str]:
    """Each gate's key after ``gate.``: its path, or with its operator and threshold where two gates share one
    (``performance.accuracy.ge_0.7``)."""
    shared = Counter(gate.path for gate in gates)
    return [
        metric_key(gate.path if shared[gate.path] == 1 else f"{gate.path}.{OP_WORDS[gate.op]}_{gate.threshold:g}")
        for gate in gates
    ]


def _experiment_id(client: MlflowClient, target: MlflowTarget) -> str:
    """The experiment's id, created if missing (another run may create it at the same moment)."""
    experiment = client.get_experiment_by_name(target.experiment)
    if experiment is None:
        try:
            return str(client.create_experiment(target.experiment))
        except Exception:
            experiment = client.get_experiment_by_name(target.experiment)
            if experiment is None:
                raise
    if experiment.lifecycle_stage != "active":
        raise OutputError(
            f"MLflow at {target.tracking_uri}: experiment {target.experiment!r} is deleted; restore it or name "
            "another (output.mlflow.experiment)"
        )
    return str(experiment.experiment_id)


def _send(client: MlflowClient, run_id: str, record: MlflowRecord) -> None:
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    params = [Param(key, value) for key, value in record.params.items()]
    tags = [RunTag(key, value) for key, value in record.tags.items()]
    metrics = [Metric(key, value, now, 0) for key, value in record.metrics.items()]
    for start in range(0, max(len(params), len(tags), len(metrics)), BATCH_SIZE):
        window = slice(start, start + BATCH_SIZE)
        client.log_batch(run_id, metrics=metrics[window], params=params[window], tags=tags[window])


def _end_failed(client: MlflowClient, run_id: str, exc: BaseException) -> None:
    """Mark a half-logged run FAILED with the reason, as far as the store still answers."""
    with contextlib.suppress(Exception):
        client.set_tag(run_id, "fmaudit.logging_error", f"{type(exc).__name__}: {exc}"[:PARAM_VALUE_LIMIT])
    with contextlib.suppress(Exception):
        client.set_terminated(run_id, "FAILED")


def _failure(target: MlflowTarget, exc: BaseException, *, what: str, report_dir: Path, verdict: str) -> OutputError:
    """The exit-2 message: what MLflow refused, and where the report (which the exit code no longer gives) is."""
    return OutputError(
        f"MLflow at {target.tracking_uri} (experiment {target.experiment!r}): {what}: {type(exc).__name__}: {exc}\n"
        f"the report is written: {report_dir} (gates: {verdict})"
    )


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """While MLflow logs the run: its own loggers below ERROR kept quiet, and the warnings its file store sends
    through the root logger (a stray directory in the store prints a traceback) dropped, without the implicit
    ``basicConfig`` such a call makes. Failures still raise."""
    own, root = logging.getLogger("mlflow"), logging.getLogger()
    level = own.level
    guard = logging.NullHandler() if not root.handlers else None
    own.setLevel(logging.ERROR)
    root.addFilter(_not_from_mlflow)
    if guard is not None:
        root.addHandler(guard)
    try:
        yield
    finally:
        own.setLevel(level)
        root.removeFilter(_not_from_mlflow)
        if guard is not None:
            root.removeHandler(guard)


def _not_from_mlflow(record: logging.LogRecord) -> bool:
    return f"{os.sep}mlflow{os.sep}" not in record.pathname
