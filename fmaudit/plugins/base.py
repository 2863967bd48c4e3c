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
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from fmaudit.findings import PluginFindings

if TYPE_CHECKING:
    from fmaudit.data import PreparedData
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

    @classmethod
    def placeholder(cls) -> AuditPlan:
        """A generic plan for listing metric path patterns without a spec."""
        return cls(attributes={"<attribute>": ["<group>"]}, private=True)


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


P = TypeVar("P", bound=PluginParams)


class AuditPlugin(ABC, Generic[P]):
    """Base class of every audit plugin, built-in or third-party."""

    name: ClassVar[str]
    title: ClassVar[str]
    Params: ClassVar[type[PluginParams]] = PluginParams

    @abstractmethod
    def metric_paths(self, params: P, plan: AuditPlan) -> list[str]:
        """Every dotted metric path ``run`` will produce for this plan (used to check gates up front)."""

    def check(self, params: P, plan: AuditPlan) -> list[str]:
        """Problems with ``params`` that only the plan reveals (e.g. an unknown group name), as
        ``key: expected ...; got ...`` lines relative to the plugin's parameters. None by default."""
        return []

    @abstractmethod
    def run(self, context: AuditContext, params: P) -> PluginFindings:
        """Compute this plugin's findings."""
