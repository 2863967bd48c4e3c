"""What an audit plugin reads: the plan known before training, the test-split predictions, the models a
run compares, the membership-inference rows, and the ``AuditContext`` that carries them.

This sits above training (it holds trained models and their records) and below every audit family, so a
family can take the context it is given without knowing the plugins or the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from fmaudit.core.executor import Executor, LocalExecutor
from fmaudit.core.findings import Findings

if TYPE_CHECKING:
    from fmaudit.data import PreparedData
    from fmaudit.models.base import Classifier
    from fmaudit.spec import Spec
    from fmaudit.training.records import TrainingRecord


@dataclass(frozen=True)
class AuditPlan:
    """What is known before any training: enough to list the metric paths a run will produce."""

    attributes: dict[str, list[str]]
    """Each sensitive attribute (and intersection) with its group names."""
    private: bool
    """Whether training uses DP-SGD."""
    intersections: tuple[str, ...] = ()
    """Which of ``attributes`` are intersections of others."""
    model_kind: str = "text"
    """The spec's ``model.kind``: 'text' or 'tabular'."""
    fields: tuple[str, ...] = ()
    """The columns the model reads (the template's fields), in template order."""
    sensitive_fields: tuple[str, ...] = ()
    """Which of ``fields`` hold a sensitive attribute."""
    twin: bool = False
    """Whether the run also trains and audits the non-private twin of a DP model."""
    sweep: tuple[float, ...] = ()
    """Further target epsilons the run trains one model each for."""
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The observed values of each non-numeric template field (so value names in params can be checked)."""
    numeric_fields: tuple[str, ...] = ()
    """Which of ``fields`` hold numbers."""
    model_source: str = ""
    """The format of a model trained elsewhere ('huggingface', 'peft', 'skops', 'onnx', 'scores'); '' when fmaudit
    trains the model."""
    training_rows_known: bool = True
    """Whether the audit knows which rows the model saw (always for fmaudit's own; ``model.source.trained_on``)."""
    columns: tuple[str, ...] = ()
    """Every column of the data, template fields or not (so column names in params can be checked)."""
    numeric_columns: tuple[str, ...] = ()
    """Which of ``columns`` hold numbers."""

    @property
    def can_rescore(self) -> bool:
        """Whether the audited model can score a row with a value changed (a scores file cannot)."""
        return self.model_source != "scores"

    @classmethod
    def placeholder(cls) -> AuditPlan:
        """A generic plan for listing metric path patterns without a spec."""
        return cls(attributes={"<attribute>": ["<group>"]}, private=True, twin=True)


@dataclass(frozen=True)
class Predictions:
    """The fine-tuned model's outputs on the test split, computed once for all plugins."""

    row_ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    """Probability of the favourable (positive) class."""
    threshold: float = 0.5

    @property
    def decisions(self) -> np.ndarray:
        return (self.scores >= self.threshold).astype(np.int64)


@dataclass(frozen=True)
class MembershipRequest:
    """A plugin's request for membership-inference inputs, which only the pipeline can provide."""

    size: int
    """Members (and as many non-members) at most."""
    seed: int
    reference_model: bool
    """Whether to train, per audited model, a reference model that has seen none of the audited rows."""


@dataclass(frozen=True)
class MembershipInputs:
    """Members, non-members and the reference model trained without any of them (see the privacy family)."""

    sets: MembershipSets
    reference: Classifier | None = None
    reference_training: TrainingRecord | None = None


@dataclass(frozen=True)
class ComparedModel:
    """Another model the run trained for comparison with the audited one, as plugins see it."""

    role: Literal["twin", "sweep"]
    label: str
    model: Classifier
    training: TrainingRecord
    predictions: Predictions
    findings: Findings = field(default_factory=Findings)
    """Its own audit by every plugin (the twin); empty for sweep models, which are only scored."""


@dataclass(frozen=True)
class AuditContext:
    """Everything a plugin may read."""

    spec: Spec
    data: PreparedData
    model: Classifier
    """Text or tabular; plugins that need text check ``model.kind``."""
    predictions: Predictions
    training: TrainingRecord
    work_dir: Path
    """A directory the plugin may write scratch files to (e.g. offline NLTK data)."""
    show_progress: bool = True
    """Whether long steps may draw progress bars."""
    plan: AuditPlan = field(default_factory=AuditPlan.placeholder)
    say: Callable[[str], None] = field(default=lambda message: None)
    """Where a plugin announces a long step (the console in ``fmaudit run``)."""
    membership: MembershipInputs | None = None
    """Set when a plugin asked for it through ``membership_request``."""
    compared: tuple[ComparedModel, ...] = ()
    """The non-private twin and sweep models, already audited, when the spec asks for them."""
    findings: Findings = field(default_factory=Findings)
    """What the plugins that ran before this one found on this model (plugins with ``reads_findings`` run last)."""
    executor: Executor = field(default_factory=LocalExecutor)
    """Where independent work runs (``--executor``): robustness attacks its rows on the executor's workers."""


@dataclass(frozen=True)
class MembershipSets:
    """The rows an attack is audited on, and the rows a reference model may train on."""

    members: np.ndarray
    """Training rows, as many as ``non_members``."""
    non_members: np.ndarray
    """Held-out rows the model never saw."""
    reference_rows: np.ndarray
    """Training rows not drawn as members: a reference model trained on them has seen no audited row."""


def draw_sets(train_rows: np.ndarray, held_out_rows: np.ndarray, *, size: int, seed: int) -> MembershipSets:
    """Balanced member/non-member sets of at most ``size`` rows each, leaving half the training rows or more
    to the reference model."""
    n = min(size, len(held_out_rows), len(train_rows) // 2)
    rng = np.random.default_rng(seed)
    members = np.sort(rng.choice(train_rows, size=n, replace=False))
    non_members = np.sort(rng.choice(held_out_rows, size=n, replace=False))
    return MembershipSets(members=members, non_members=non_members, reference_rows=np.setdiff1d(train_rows, members))
