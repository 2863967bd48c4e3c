"""The models one run trains and scores: the audited model, its twin, seed replicas, sweep points and the
membership test's reference models, each trained (or loaded from the model cache) and scored on the test
split once; and the clock that records where the run's time went.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fmaudit.core.errors import ModelError
from fmaudit.core.executor import Executor
from fmaudit.core.provenance import StageTime, sha256_json
from fmaudit.engine.planning import Plan, Progress
from fmaudit.plugins.base import MembershipInputs, Predictions
from fmaudit.spec import TrainingSpec

if TYPE_CHECKING:
    from fmaudit.models.base import Classifier
    from fmaudit.plugins.context import MembershipSets
    from fmaudit.training.records import TrainingRecord


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


def replica_of(training: TrainingSpec, seed: int) -> TrainingSpec:
    """A seed replica's settings: the same training with another seed."""
    return training.model_copy(update={"seed": seed})


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
        """Every model the run will train, known before any is: the audited model, its twin, the seed replicas,
        the sweep points, and per audited model the membership test's reference model."""
        spec, audit_plan = self.plan.loaded.spec, self.plan.audit_plan
        if spec.model.source is not None:
            return []  # trained elsewhere: nothing to train, and no reference model can be trained like it
        audited = [TrainingJob("model", spec.training)]
        if audit_plan.twin:
            audited.append(TrainingJob("twin (no DP)", twin_of(spec.training)))
        audited += [
            TrainingJob(f"seed replica {seed}", replica_of(spec.training, seed)) for seed in spec.training.replica_seeds
        ]
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
        """The model trained (or loaded from the cache) and scored on the test split; for ``model.source``, the
        model trained elsewhere, loaded and scored at its declared decision threshold."""
        source = self.plan.loaded.spec.model.source
        if source is None:
            classifier, record = self._train(label, training)
        else:
            with self.clock.stage(f"load: {label} ({source.format})"):
                classifier, record = load_external(self.plan, cache_dir=self.cache_dir)
            self.progress(f"{label}: {record.base_model}, loaded ({record.weights_sha256[:12]})")
        with self.clock.stage(f"score test split: {label}"):
            predictions = score_test_split(self.plan, classifier, show_progress=self.show_progress)
        if source is not None:
            predictions = replace(predictions, threshold=source.threshold)
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
        from fmaudit.plugins.context import draw_sets

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
    from fmaudit.training.fine_tuning import fine_tune

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


def load_external(the_plan: Plan, *, cache_dir: Path) -> tuple[Classifier, TrainingRecord]:
    """The model ``model.source`` names, and a record that says it was trained elsewhere: its files' hash as the
    weights hash (what the manifest and ``verify`` check), the rows it was declared to be trained on."""
    from fmaudit.data import template_fields
    from fmaudit.models.sources import load_source
    from fmaudit.training.records import TrainingRecord

    spec, data = the_plan.loaded.spec, the_plan.data
    source = spec.model.source
    assert source is not None
    started = time.perf_counter()
    try:
        loaded = load_source(
            source,
            data,
            spec.data,
            columns=template_fields(spec.data.template),
            base_dir=the_plan.loaded.base_dir,
            cache_dir=cache_dir / "models",
        )
    except ModelError as exc:  # each problem names the spec file, as spec problems do
        raise ModelError("\n".join(f"{the_plan.loaded.path}: {line}" for line in str(exc).splitlines())) from exc
    rows = np.asarray(data.train_idx, dtype=np.int64)
    notes = [] if source.trained_on is not None else [UNKNOWN_TRAINING_ROWS]
    record = TrainingRecord(
        base_model=spec.model.describe(),
        base_model_dir=str(loaded.path),
        base_model_sha256="",
        cache_key="",
        weights_sha256=loaded.sha256,
        seconds=round(time.perf_counter() - started, 2),
        epoch_losses=[],
        trainable_parameters=0,
        total_parameters=_parameters(loaded.classifier),
        trained_modules=[],
        settings={},
        training_rows=len(rows) if source.trained_on is not None else 0,
        rows_sha256=sha256_json(rows.tolist()) if source.trained_on is not None else "",
        notes=notes,
        source_format=source.format,
    )
    return loaded.classifier, record


UNKNOWN_TRAINING_ROWS = (
    "The spec does not say which rows the model was trained on (model.source.trained_on): the test split may "
    "hold rows it saw in training, which would flatter every figure."
)


def _parameters(classifier: Classifier) -> int:
    """A torch model's parameter count (0 for pipelines and scores files, which have none fmaudit can count)."""
    model = getattr(classifier, "model", None)
    parameters = getattr(model, "parameters", None)
    return sum(p.numel() for p in parameters()) if callable(parameters) else 0


def score_test_split(the_plan: Plan, classifier: Classifier, *, show_progress: bool = True) -> Predictions:
    """The model's scores on the test split, computed once and shared by every plugin."""
    from tqdm.auto import tqdm

    data = the_plan.data
    with tqdm(total=len(data.test_idx), desc="score test split", unit="row", disable=not show_progress) as bar:
        scores = classifier.predict_rows(data, data.test_idx, progress=bar)
    return Predictions(row_ids=data.test_idx, labels=data.labels[data.test_idx], scores=scores)
