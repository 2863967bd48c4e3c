"""The plugin contract and the registry; what a plugin author imports.

A plugin subclasses ``AuditPlugin``, validates its ``audits.<name>`` section with a ``PluginParams`` model, reads
the ``AuditContext`` it is given and returns ``PluginFindings`` of ``Metric``, ``Table`` and chart records. The
built-in plugins live in ``fmaudit.families``, one package per audit family.
"""

from fmaudit.core.findings import Bar, BarChart, Estimate, LineChart, Metric, PluginFindings, Table
from fmaudit.plugins.base import AuditPlugin
from fmaudit.plugins.context import AuditContext, AuditPlan, MembershipRequest, Predictions
from fmaudit.spec import PluginParams

__all__ = [
    "AuditContext",
    "AuditPlan",
    "AuditPlugin",
    "Bar",
    "BarChart",
    "Estimate",
    "LineChart",
    "MembershipRequest",
    "Metric",
    "PluginFindings",
    "PluginParams",
    "Predictions",
    "Table",
]
