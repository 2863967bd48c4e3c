"""The plugin contract: a name, a typed parameter model, the metric paths it will
produce, and ``run(context, params) -> PluginFindings``.

Plugins read only the typed context; they never open the spec file, never render
HTML, and never train the model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from fmaudit.findings import Findings, PluginFindings

if TYPE_CHECKING:
    from fmaudit.data import PreparedData
    from fmaudit.membership import MembershipSets
    from fmaudit.model import Classifier
    from fmaudit.spec import Spec
    from fmaudit.training import TrainingRecord


class PluginParams(BaseModel):
    """Base for plugin parameter models: unknown keys are spec errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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
    """Members, non-members and the reference model trained without any of them (see fmaudit.membership)."""

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


P = TypeVar("P", bound=PluginParams)


class AuditPlugin(ABC, Generic[P]):
    """Base class of every audit plugin, built-in or third-party."""

    name: ClassVar[str]
    title: ClassVar[str]
    Params: ClassVar[type[PluginParams]] = PluginParams
    reads_findings: ClassVar[bool] = False
    """True for plugins that compare other plugins' findings: they run after all the others."""

    @abstractmethod
    def metric_paths(self, params: P, plan: AuditPlan) -> list[str]:
        """Every dotted metric path ``run`` will produce for this plan (used to check gates up front)."""

    def check(self, params: P, plan: AuditPlan) -> list[str]:
        """Problems with ``params`` that only the plan reveals (e.g. an unknown group name), as
        ``key: expected ...; got ...`` lines relative to the plugin's parameters. None by default."""
        return []

    def membership_request(self, params: P, plan: AuditPlan) -> MembershipRequest | None:
        """Ask the pipeline for member/non-member rows (and reference models); None by default."""
        return None

    @abstractmethod
    def run(self, context: AuditContext, params: P) -> PluginFindings:
        """Compute this plugin's findings."""
