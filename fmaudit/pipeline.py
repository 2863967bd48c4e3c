"""The pipeline, top to bottom: spec -> data -> runner -> model -> plugins -> findings -> gates -> report.

``plan`` does everything that can fail on bad input (spec, data, gate paths)
without importing torch, so ``fmaudit validate`` is fast and a run fails before
any training when its input is wrong.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fmaudit.data import (
    INTERSECTION_JOIN,
    PreparedData,
    field_values,
    intersection_name,
    is_numeric,
    prepare,
    template_fields,
)
from fmaudit.errors import ExitCode, PluginError, SpecError
from fmaudit.executor import Executor, LocalExecutor
from fmaudit.findings import Findings, PluginFindings
from fmaudit.gates import Gate, GateResult, check_gate_paths, evaluate, parse_gate
from fmaudit.plugins.base import (
    AuditContext,
    AuditPlan,
    AuditPlugin,
    ComparedModel,
    MembershipInputs,
    MembershipRequest,
    PluginParams,
    Predictions,
)
from fmaudit.plugins.registry import resolve_plugins
from fmaudit.provenance import Provenance, StageTime, sha256_file, sha256_json
from fmaudit.spec import LoadedSpec, TrainingSpec, load_spec

if TYPE_CHECKING:
    from fmaudit.context import MembershipSets
    from fmaudit.models.base import Classifier
    from fmaudit.report.write import OutputOptions
    from fmaudit.training.records import TrainingRecord

Progress = Callable[[str], None]


def default_cache_dir() -> Path:
    """``$FMAUDIT_CACHE_DIR``, else the user cache directory (XDG)."""
    if os.environ.get("FMAUDIT_CACHE_DIR"):
        return Path(os.environ["FMAUDIT_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "fmaudit"


@dataclass(frozen=True)
class Plan:
    """A validated spec with its data loaded and every gate matched to a metric."""

    loaded: LoadedSpec
    data: PreparedData
    data_sha256: str
    audit_plan: AuditPlan
    plugins: dict[str, AuditPlugin[Any]]
    params: dict[str, PluginParams]
    """Each plugin's ``audits.<name>`` section, validated by the plugin's own Params model."""
    metric_paths: dict[str, list[str]]
    gates: list[Gate]

    @property
    def membership_request(self) -> MembershipRequest | None:
        """What the first plugin asking for membership-inference inputs needs (only the privacy plugin does)."""
        for name, plugin in self.plugins.items():
            request = plugin.membership_request(self.params[name], self.audit_plan)
            if request is not None:
                return request
        return None


@dataclass(frozen=True)
class RunResult:
    report_dir: Path
    findings: Findings
    gate_results: list[GateResult]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if all(r.passed for r in self.gate_results) else ExitCode.GATES_FAILED


def plan(spec_path: str | Path) -> Plan:
    """Validate the spec, load the data and check every gate's metric path; no training."""
    loaded = load_spec(spec_path)
    spec = loaded.spec
    data = prepare(spec.data, base_dir=loaded.base_dir)
    privacy = spec.training.privacy
    n_train = data.n_train
    if privacy is not None and privacy.delta >= 1 / n_train and not privacy.allow_large_delta:
        raise SpecError(
            f"{loaded.path}: training.privacy.delta: must be below 1/N = {1 / n_train:.2e} "
            f"for N = {n_train} training rows (or set allow_large_delta: true); got {privacy.delta:g}"
        )
    attributes = {name: sorted(data.sensitive[name].unique()) for name in spec.data.sensitive}
    # Every combination of an intersection, including those with no rows: an empty cell is a finding too.
    attributes.update(
        {
            intersection_name(c): [INTERSECTION_JOIN.join(p) for p in itertools.product(*(attributes[a] for a in c))]
            for c in spec.data.intersections
        }
    )
    fields = tuple(template_fields(spec.data.template))
    sensitive_columns = {s.column for s in spec.data.sensitive.values()}
    audit_plan = AuditPlan(
        attributes=attributes,
        private=privacy is not None,
        intersections=tuple(intersection_name(c) for c in spec.data.intersections),
        model_kind=spec.model.kind,
        fields=fields,
        sensitive_fields=tuple(f for f in fields if f in sensitive_columns),
        twin=privacy is not None and privacy.compare,
        sweep=tuple(e for e in privacy.sweep if e != privacy.target_epsilon) if privacy is not None else (),
        categories={f: field_values(data.frame[f]) for f in fields if not is_numeric(data.frame[f])},
        numeric_fields=tuple(f for f in fields if is_numeric(data.frame[f])),
    )
    plugins, params = resolve_plugins(loaded)
    problems = [
        f"{loaded.path}: audits.{name}.{problem}"
        for name, plugin in plugins.items()
        for problem in plugin.check(params[name], audit_plan)
    ]
    if problems:
        raise SpecError(problems)
    paths = {name: plugins[name].metric_paths(params[name], audit_plan) for name in plugins}
    gates = [parse_gate(text) for text in spec.gates]
    check_gate_paths(gates, [p for group in paths.values() for p in group], where=str(loaded.path))
    return Plan(
        loaded=loaded,
        data=data,
        data_sha256=sha256_file(data.source_path),
        audit_plan=audit_plan,
        plugins=plugins,
        params=params,
        metric_paths=paths,
        gates=gates,
    )


def run(
    spec_path: str | Path,
    *,
    out: Path | None = None,
    cache_dir: Path | None = None,
    command: str = "",
    progress: Progress = lambda message: None,
    show_progress_bars: bool = True,
    options: OutputOptions | None = None,
    executor: Executor | None = None,
) -> RunResult:
    """Run a whole audit and write its report; the returned exit code is the gate verdict.

    ``options`` (formats, redaction, signing key) default to the spec's ``output`` section. ``executor`` (default
    local) runs the training jobs and the robustness attacks."""
    from fmaudit.models.encodings import count_afresh, flush_all
    from fmaudit.report import write_report

    count_afresh()
    started = time.perf_counter()
    clock = StageClock()
    with clock.stage("plan: spec, data, gates"):
        the_plan = plan(spec_path)
    spec, data = the_plan.loaded.spec, the_plan.data
    progress(
        f"data: {data.n_rows} rows ({len(data.train_idx)} train / {len(data.test_idx)} test), "
        f"sensitive: {', '.join(the_plan.audit_plan.attributes)}"
    )
    cache_dir = cache_dir or default_cache_dir()
    progress(
        f"model: {spec.model.describe()}, " + ("DP-SGD" if spec.training.privacy else "no DP") + f", cache {cache_dir}"
    )
    executor = executor if executor is not None else LocalExecutor()
    models = ModelTrainer(
        the_plan, cache_dir=cache_dir, progress=progress, show_progress=show_progress_bars, clock=clock
    )
    models.train_on(executor)
    classifier, record, predictions = models.train_and_score("model", spec.training)
    base_context = AuditContext(
        spec=spec,
        data=data,
        model=classifier,
        predictions=predictions,
        training=record,
        work_dir=cache_dir / "work",
        show_progress=show_progress_bars,
        plan=the_plan.audit_plan,
        say=progress,
        executor=executor,
    )
    compared = []
    if the_plan.audit_plan.twin:
        twin_training = twin_of(spec.training)
        twin, twin_record, twin_predictions = models.train_and_score("twin (no DP)", twin_training)
        progress("audit: the non-private twin")
        twin_context = replace(
            base_context,
            model=twin,
            predictions=twin_predictions,
            training=twin_record,
            membership=models.membership_inputs(twin_training),
        )
        twin_findings = audit(the_plan, twin_context, progress=progress, clock=clock, label="twin (no DP)")
        compared.append(ComparedModel("twin", "no-DP twin", twin, twin_record, twin_predictions, twin_findings))
    for epsilon in the_plan.audit_plan.sweep:
        point = sweep_point(spec.training, epsilon)
        label = f"target ε = {epsilon:g}"
        sweep_model, sweep_record, sweep_predictions = models.train_and_score(f"sweep {label}", point)
        compared.append(ComparedModel("sweep", label, sweep_model, sweep_record, sweep_predictions))
    context = replace(base_context, membership=models.membership_inputs(spec.training), compared=tuple(compared))
    findings = audit(the_plan, context, progress=progress, clock=clock)
    flush_all()  # the encoder vectors this run computed, for the next run
    gate_results = evaluate(the_plan.gates, findings.metrics())

    now = datetime.now(timezone.utc)
    resolved = spec.model_dump(mode="json")
    provenance = Provenance(
        run_id=f"{now:%Y%m%dT%H%M%SZ}-{sha256_json([resolved, record.weights_sha256])[:8]}",
        timestamp=now.isoformat(timespec="seconds"),
        command=command,
        spec_path=str(the_plan.loaded.path),
        spec_sha256=sha256_json(resolved),
        data_path=str(data.source_path),
        data_sha256=the_plan.data_sha256,
        base_model=f"{spec.model.describe()}" + (f" ({record.base_model_dir})" if record.base_model_dir else ""),
        base_model_sha256=record.base_model_sha256,
        weights_sha256=record.weights_sha256,
        seed=spec.training.seed,
        stages=tuple(clock.stages),
    )
    out_root = (out or Path(spec.output.dir)) / spec.name
    report_dir = write_report(
        out_root,
        spec=spec,
        data=data,
        predictions=predictions,
        record=record,
        findings=findings,
        gate_results=gate_results,
        provenance=provenance,
        seconds=time.perf_counter() - started,
        compared=tuple(compared),
        options=options,
    )
    return RunResult(report_dir=report_dir, findings=findings, gate_results=gate_results)


class StageClock:
    """Times each stage of a run and counts the encoder work inside it (findings.json's provenance)."""

    def __init__(self) -> None:
        self.stages: list[StageTime] = []

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        from fmaudit.models.encodings import totals

        before, started = totals(), time.perf_counter()
        try:
            yield
        finally:
            work = totals() - before
            seconds = round(time.perf_counter() - started, 2)
            self.stages.append(StageTime(name, seconds, work.texts, work.encoded, round(work.seconds, 2)))


def twin_of(training: TrainingSpec) -> TrainingSpec:
    """The non-private twin's settings: the same training without DP-SGD."""
    return training.model_copy(update={"privacy": None})


def sweep_point(training: TrainingSpec, epsilon: float) -> TrainingSpec:
    """The settings of the sweep model trained to ``epsilon``."""
    assert training.privacy is not None  # a sweep is planned only under DP
    return training.model_copy(update={"privacy": training.privacy.model_copy(update={"target_epsilon": epsilon})})


@dataclass(frozen=True)
class TrainingJob:
    """One model a run trains: its label in the run's log, its settings, and its rows (None: the training split)."""

    label: str
    training: TrainingSpec
    rows: np.ndarray | None = None


class ModelTrainer:
    """Trains (or loads from the cache) every model one run audits, and the reference models its
    membership-inference test needs; scores each on the test split once."""

    def __init__(
        self, the_plan: Plan, *, cache_dir: Path, progress: Progress, show_progress: bool, clock: StageClock
    ) -> None:
        self.plan = the_plan
        self.clock = clock
        self.cache_dir = cache_dir
        self.progress = progress
        self.show_progress = show_progress
        self.request = the_plan.membership_request
        self._sets: MembershipSets | None = None

    def jobs(self) -> list[TrainingJob]:
        """Every model the run will train, known before any is: the audited model, its twin, the sweep points,
        and per audited model the membership test's reference model."""
        spec, audit_plan = self.plan.loaded.spec, self.plan.audit_plan
        audited = [TrainingJob("model", spec.training)]
        if audit_plan.twin:
            audited.append(TrainingJob("twin (no DP)", twin_of(spec.training)))
        sweep = [TrainingJob(f"sweep target ε = {e:g}", sweep_point(spec.training, e)) for e in audit_plan.sweep]
        references = []
        if self.request is not None and self.request.reference_model:
            references = [
                TrainingJob(self._reference_label(job.training), job.training, self.sets.reference_rows)
                for job in audited
            ]
        return audited + sweep + references

    def train_on(self, executor: Executor) -> None:
        """Train every job on a distributed executor, each into the model cache, so that the run then loads them
        (jobs already cached return at once). Locally the models train where the run first needs them."""
        if not executor.distributed:
            return
        import torch

        jobs = self.jobs()
        self.progress(f"training {len(jobs)} model(s) on {executor.name}: {', '.join(job.label for job in jobs)}")
        threads = torch.get_num_threads()
        with self.clock.stage(f"train on {executor.name}: {len(jobs)} job(s)"):
            records = executor.map(functools.partial(_train_job, self.plan, self.cache_dir, threads), jobs)
        for job, record in zip(jobs, records, strict=True):
            how = "in cache" if record.from_cache else f"trained in {record.seconds:.0f} s"
            self.progress(f"{job.label}: {how} on {executor.name} ({record.cache_key[:12]})")

    def train_and_score(self, label: str, training: TrainingSpec) -> tuple[Classifier, TrainingRecord, Predictions]:
        classifier, record = self._train(label, training)
        with self.clock.stage(f"score test split: {label}"):
            predictions = score_test_split(self.plan, classifier, show_progress=self.show_progress)
        return classifier, record, predictions

    def membership_inputs(self, training: TrainingSpec) -> MembershipInputs | None:
        """Members and non-members, and (if asked) a reference model trained like ``training`` without them."""
        if self.request is None:
            return None
        sets = self.sets
        if not self.request.reference_model:
            return MembershipInputs(sets=sets)
        reference, record = self._train(self._reference_label(training), training, rows=sets.reference_rows)
        return MembershipInputs(sets=sets, reference=reference, reference_training=record)

    @staticmethod
    def _reference_label(training: TrainingSpec) -> str:
        return "reference model" + (" (DP)" if training.privacy else " (no DP)")

    @property
    def sets(self) -> MembershipSets:
        """The run's one draw of members and non-members, shared by every model it audits."""
        from fmaudit.context import draw_sets

        assert self.request is not None
        if self._sets is None:
            data = self.plan.data
            self._sets = draw_sets(data.train_idx, data.test_idx, size=self.request.size, seed=self.request.seed)
        return self._sets

    def _train(
        self, label: str, training: TrainingSpec, rows: np.ndarray | None = None
    ) -> tuple[Classifier, TrainingRecord]:
        with self.clock.stage(f"train or load: {label}"):
            classifier, record = train(
                self.plan, training, cache_dir=self.cache_dir, rows=rows, show_progress=self.show_progress
            )
        how = "loaded from cache" if record.from_cache else f"trained in {record.seconds:.0f} s"
        epsilon = f", epsilon {record.privacy.epsilon:.2f}" if record.privacy else ""
        self.progress(f"{label}: {how} on {record.training_rows} rows ({record.cache_key[:12]}){epsilon}")
        return classifier, record


def _train_job(the_plan: Plan, cache_dir: Path, threads: int, job: TrainingJob) -> TrainingRecord:
    """An executor job: train one model into the cache (no progress bars: it may run on another machine).

    It trains with the run's own torch thread count: CPU kernels sum in an order that depends on it, so the
    weights then equal those the run would have trained itself."""
    import torch

    torch.set_num_threads(threads)
    return train(the_plan, job.training, cache_dir=cache_dir, rows=job.rows, show_progress=False)[1]


def train(
    the_plan: Plan,
    training: TrainingSpec,
    *,
    cache_dir: Path,
    rows: np.ndarray | None = None,
    show_progress: bool = True,
) -> tuple[Classifier, TrainingRecord]:
    """Runner stage: the planned model (text or tabular) trained with ``training`` settings (cached by content),
    on the split's training rows or on ``rows`` among them."""
    from fmaudit.training.runner import fine_tune

    spec = the_plan.loaded.spec
    return fine_tune(
        model_spec=spec.model,
        base_dir=the_plan.loaded.base_dir,
        data=the_plan.data,
        data_spec=spec.data,
        data_sha256=the_plan.data_sha256,
        training=training,
        cache_dir=cache_dir / "models",
        rows=rows,
        show_progress=show_progress,
    )


def score_test_split(the_plan: Plan, classifier: Classifier, *, show_progress: bool = True) -> Predictions:
    """The model's scores on the test split, computed once and shared by every plugin."""
    from tqdm.auto import tqdm

    data = the_plan.data
    with tqdm(total=len(data.test_idx), desc="score test split", unit="row", disable=not show_progress) as bar:
        scores = classifier.predict_rows(data, data.test_idx, progress=bar)
    return Predictions(row_ids=data.test_idx, labels=data.labels[data.test_idx], scores=scores)


def audit(
    the_plan: Plan,
    context: AuditContext,
    *,
    progress: Progress = lambda message: None,
    clock: StageClock | None = None,
    label: str = "model",
) -> Findings:
    """Run every planned plugin on one model's context, holding each to its contract; plugins that read
    other plugins' findings run last and see what ran before them."""
    clock = clock or StageClock()
    sections: list[PluginFindings] = []
    order = sorted(the_plan.plugins.items(), key=lambda item: item[1].reads_findings)
    for name, plugin in order:
        progress(f"audit: {name} ...")
        began = time.perf_counter()
        seen = replace(context, findings=Findings(sections=tuple(sections)))
        with clock.stage(f"audit {label}: {name}"):
            section = plugin.run(seen, the_plan.params[name])
        section = _checked(name, section, the_plan.metric_paths[name], seconds=time.perf_counter() - began)
        progress(f"audit: {name} done in {section.seconds:.1f} s")
        sections.append(section)
    return Findings(sections=tuple(sections))


def _checked(name: str, section: PluginFindings, declared: list[str], *, seconds: float) -> PluginFindings:
    """Hold a plugin to its contract: it returns findings and only the metric paths it declared."""
    if not isinstance(section, PluginFindings):
        raise PluginError(f"plugin {name!r} returned {type(section).__name__}, not PluginFindings")
    undeclared = sorted({m.path for m in section.metrics} - set(declared))
    if undeclared:
        raise PluginError(f"plugin {name!r} produced metric paths it did not declare: {undeclared[:5]}")
    return replace(section, seconds=round(seconds, 2))
