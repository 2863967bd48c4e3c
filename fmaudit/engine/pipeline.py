"""The pipeline, top to bottom: spec -> data -> runner -> model -> plugins -> findings -> gates -> report.

Planning (``fmaudit.engine.planning``: everything that can fail on bad input, no training) and the models a run
trains (``fmaudit.engine.trainer``) have their own modules; ``plan``, ``train`` and ``score_test_split`` are
re-exported here, the pipeline's public face.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from fmaudit.core.errors import ExitCode, PluginError
from fmaudit.core.executor import Executor, LocalExecutor
from fmaudit.core.findings import Findings, PluginFindings
from fmaudit.core.provenance import Provenance, sha256_json
from fmaudit.engine.planning import Plan, Progress, default_cache_dir, plan
from fmaudit.engine.trainer import ModelTrainer, StageClock, replica_of, score_test_split, sweep_point, train, twin_of
from fmaudit.metrics.gates import GateResult, evaluate
from fmaudit.metrics.seed_spread import Replica, SeedSpread, seed_spread, with_spread_cautions
from fmaudit.plugins.base import (
    AuditContext,
    ComparedModel,
    Predictions,
)
from fmaudit.spec import TrainingSpec

__all__ = ["Plan", "RunResult", "audit", "default_cache_dir", "plan", "run", "score_test_split", "train"]

if TYPE_CHECKING:
    from fmaudit.models.base import Classifier
    from fmaudit.report.write import OutputOptions
    from fmaudit.training.records import TrainingRecord


@dataclass(frozen=True)
class RunResult:
    report_dir: Path
    findings: Findings
    gate_results: list[GateResult]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if all(r.passed for r in self.gate_results) else ExitCode.GATES_FAILED


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
    from fmaudit.report.mlflow_log import log_run, mlflow_target

    count_afresh()
    started = time.perf_counter()
    clock = StageClock()
    with clock.stage("plan: spec, data, gates"):
        the_plan = plan(spec_path)
    spec = the_plan.loaded.spec
    mlflow = mlflow_target(the_plan.loaded, options)  # an unusable target fails here, before any training
    cache_dir = cache_dir or default_cache_dir()
    _announce(the_plan, cache_dir, progress)
    executor = executor if executor is not None else LocalExecutor()
    models = ModelTrainer(
        the_plan, cache_dir=cache_dir, progress=progress, show_progress=show_progress_bars, clock=clock
    )
    models.train_on(executor)
    classifier, record, predictions = models.train_and_score("model", spec.training)
    base_context = context_for(
        the_plan,
        classifier,
        record,
        predictions,
        cache_dir=cache_dir,
        show_progress=show_progress_bars,
        say=progress,
        executor=executor,
    )
    compared = compared_models(the_plan, models, base_context, progress=progress)
    context = replace(base_context, membership=models.membership_inputs(spec.training), compared=compared)
    findings = audit(the_plan, context, progress=progress, clock=clock)
    spread = audit_replicas(the_plan, models, base_context, findings, progress=progress)
    flush_all()  # the encoder vectors this run computed, for the next run
    gate_results = evaluate(the_plan.gates, {**findings.metrics(), **(spread.metrics() if spread else {})})
    if spread is not None:
        gate_results = with_spread_cautions(gate_results, spread, findings.metrics())
    report_dir = write_report(
        (out or Path(spec.output.dir)) / spec.name,
        spec=spec,
        data=the_plan.data,
        predictions=predictions,
        record=record,
        findings=findings,
        gate_results=gate_results,
        provenance=provenance_of(the_plan, record, clock, command=command),
        seconds=time.perf_counter() - started,
        compared=compared,
        spread=spread,
        options=options,
    )
    if mlflow is not None:  # after the report, which a logging failure must not lose
        log_run(report_dir, mlflow, headline=the_plan.headline_paths, say=progress)
    return RunResult(report_dir=report_dir, findings=findings, gate_results=gate_results)


def context_for(
    the_plan: Plan,
    model: Classifier,
    record: TrainingRecord,
    predictions: Predictions,
    *,
    cache_dir: Path,
    show_progress: bool,
    say: Progress = lambda message: None,
    executor: Executor | None = None,
) -> AuditContext:
    """What every plugin reads about one trained and scored model of the plan (before membership rows and
    compared models are added)."""
    return AuditContext(
        spec=the_plan.loaded.spec,
        data=the_plan.data,
        model=model,
        predictions=predictions,
        training=record,
        work_dir=cache_dir / "work",
        show_progress=show_progress,
        plan=the_plan.audit_plan,
        say=say,
        executor=executor if executor is not None else LocalExecutor(),
    )


def _announce(the_plan: Plan, cache_dir: Path, progress: Progress) -> None:
    """The run's first two lines: the data and its split, the model and where it is cached."""
    spec, data = the_plan.loaded.spec, the_plan.data
    progress(
        f"data: {data.n_rows} rows ({len(data.train_idx)} train / {len(data.test_idx)} test), "
        f"sensitive: {', '.join(the_plan.audit_plan.attributes)}"
    )
    privacy = "DP-SGD" if spec.training.privacy else "no DP"
    progress(f"model: {spec.model.describe()}, {privacy}, cache {cache_dir}")


def compared_models(
    the_plan: Plan, models: ModelTrainer, context: AuditContext, *, progress: Progress = lambda message: None
) -> tuple[ComparedModel, ...]:
    """The models the audited one is compared with: its non-private twin, audited alone by every plugin, and
    the sweep points, only scored."""
    training = the_plan.loaded.spec.training
    compared = []
    if the_plan.audit_plan.twin:
        twin, record, predictions, findings = audit_alone(
            the_plan, models, context, "twin (no DP)", twin_of(training), progress=progress
        )
        compared.append(ComparedModel("twin", "no-DP twin", twin, record, predictions, findings))
    for epsilon in the_plan.audit_plan.sweep:
        label = f"target ε = {epsilon:g}"
        model, record, predictions = models.train_and_score(f"sweep {label}", sweep_point(training, epsilon))
        compared.append(ComparedModel("sweep", label, model, record, predictions))
    return tuple(compared)


def provenance_of(the_plan: Plan, record: TrainingRecord, clock: StageClock, *, command: str) -> Provenance:
    """What the report's every figure traces back to: spec, data, base model and weights hashes, and the stages."""
    spec = the_plan.loaded.spec
    now = datetime.now(timezone.utc)
    resolved = spec.model_dump(mode="json")
    return Provenance(
        run_id=f"{now:%Y%m%dT%H%M%SZ}-{sha256_json([resolved, record.weights_sha256])[:8]}",
        timestamp=now.isoformat(timespec="seconds"),
        command=command,
        spec_path=str(the_plan.loaded.path),
        spec_sha256=sha256_json(resolved),
        data_path=str(the_plan.data.source_path),
        data_sha256=the_plan.data_sha256,
        base_model=f"{spec.model.describe()}" + (f" ({record.base_model_dir})" if record.base_model_dir else ""),
        base_model_sha256=record.base_model_sha256,
        weights_sha256=record.weights_sha256,
        seed=spec.training.seed,
        stages=tuple(clock.stages),
    )


def audit_replicas(
    the_plan: Plan,
    models: ModelTrainer,
    context: AuditContext,
    findings: Findings,
    *,
    progress: Progress = lambda message: None,
) -> SeedSpread | None:
    """``training.seed_replicas``: train the audited model again with each other seed, audit each replica alone
    with the same plugins (like the twin: no compared models) and aggregate the spread; None without replicas.

    Each replica's membership inference trains its own reference model with the replica's settings and seed,
    as a reference model must be trained like the model it calibrates: two trainings per replica."""
    training = the_plan.loaded.spec.training
    if not training.seed_replicas:
        return None
    replicas = []
    for seed in training.replica_seeds:
        replica_training = replica_of(training, seed)
        _, record, _, replica_findings = audit_alone(
            the_plan, models, context, f"seed replica {seed}", replica_training, progress=progress
        )
        replicas.append(
            Replica(seed, replica_findings, record.cache_key, record.weights_sha256, record.from_cache, record.seconds)
        )
    return seed_spread(
        findings,
        replicas,
        the_plan.gates,
        audited_seed=training.seed,
        private=training.privacy is not None,
        headline=the_plan.headline_paths,
    )


def audit_alone(
    the_plan: Plan,
    models: ModelTrainer,
    context: AuditContext,
    label: str,
    training: TrainingSpec,
    *,
    progress: Progress = lambda message: None,
) -> tuple[Classifier, TrainingRecord, Predictions, Findings]:
    """Train (or load) and score a model other than the audited one, and audit it alone with every plugin:
    its own membership inputs, no compared models."""
    model, record, predictions = models.train_and_score(label, training)
    progress(f"audit: {label}")
    alone = replace(
        context,
        model=model,
        predictions=predictions,
        training=record,
        membership=models.membership_inputs(training),
        compared=(),
    )
    return model, record, predictions, audit(the_plan, alone, progress=progress, clock=models.clock, label=label)


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
