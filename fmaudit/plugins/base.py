"""The plugin contract: a name, a typed parameter model, the metric paths it will
produce, and ``run(context, params) -> PluginFindings``.

Plugins read only the typed context; they never open the spec file, never render
HTML, and never train the model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

from fmaudit.core.findings import PluginFindings
from fmaudit.plugins.context import (
    AuditContext,
    AuditPlan,
    ComparedModel,
    MembershipInputs,
    MembershipRequest,
    MembershipSets,
    Predictions,
)
from fmaudit.spec import PluginParams

__all__ = [
    "AuditContext",
    "AuditPlan",
    "AuditPlugin",
    "ComparedModel",
    "MembershipInputs",
    "MembershipRequest",
    "MembershipSets",
    "PluginParams",
    "Predictions",
]


P = TypeVar("P", bound=PluginParams)


class AuditPlugin(ABC, Generic[P]):
    """Base class of every audit plugin, built-in or third-party."""

    name: ClassVar[str]
    title: ClassVar[str]
    Params: ClassVar[type[PluginParams]] = PluginParams
    reads_findings: ClassVar[bool] = False
    """True for plugins that compare other plugins' findings: they run after all the others."""
    needs_model: ClassVar[bool] = True
    """False for plugins that read only the test split's scores, which can audit a file of scores
    (``model.source.format: scores``) as well as a model."""

    @abstractmethod
    def metric_paths(self, params: P, plan: AuditPlan) -> list[str]:
        """Every dotted metric path ``run`` will produce for this plan (used to check gates up front)."""

    def check(self, params: P, plan: AuditPlan) -> list[str]:
        """Problems with ``params`` that only the plan reveals (e.g. an unknown group name), as
        ``key: expected ...; got ...`` lines relative to the plugin's parameters. None by default."""
        return []

    def adapted(self, params: P, plan: AuditPlan) -> P:
        """``params`` with the parts the plan's model cannot serve switched off (a file of scores cannot score a
        changed row; nobody can train a reference model like a model trained elsewhere), so defaults never ask
        for the impossible; a part the spec asks for explicitly is a ``check`` problem instead. Unchanged by
        default."""
        return params

    def headline_paths(self, params: P, plan: AuditPlan) -> list[str]:
        """The few of ``metric_paths`` a summary leads with: a run with seed replicas reports their spread.
        None by default."""
        return []

    def membership_request(self, params: P, plan: AuditPlan) -> MembershipRequest | None:
        """Ask the pipeline for member/non-member rows (and reference models); None by default."""
        return None

    @abstractmethod
    def run(self, context: AuditContext, params: P) -> PluginFindings:
        """Compute this plugin's findings."""
