"""The plugin-author harness finds each kind of breach, and lists them all at once."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ConfigDict

from fmaudit.plugins import AuditPlan, AuditPlugin, Metric, PluginFindings, PluginParams
from fmaudit.testing import ContractViolation, check_plugin

PLAN = AuditPlan.placeholder()
UNUSED_CONTEXT: Any = object()
"""These plugins never read their context."""


class Lenient(PluginParams):
    model_config = ConfigDict(extra="allow", frozen=True)


class Good(AuditPlugin[PluginParams]):
    name = "good"
    title = "Good"

    def metric_paths(self, params: PluginParams, plan: AuditPlan) -> list[str]:
        return ["good.a", "good.b"]

    def headline_paths(self, params: PluginParams, plan: AuditPlan) -> list[str]:
        return ["good.a"]

    def run(self, context: Any, params: PluginParams) -> PluginFindings:
        return PluginFindings(self.name, self.title, "", (Metric("good.a", 1.0, "A"), Metric("good.b", None, "B")))


class BadDeclarations(Good):
    name = "Bad Name"
    title = ""
    Params = Lenient


class BadPaths(Good):
    def metric_paths(self, params: PluginParams, plan: AuditPlan) -> list[str]:
        return ["good.a", "good.a", "other.c", "good.has space"]

    def headline_paths(self, params: PluginParams, plan: AuditPlan) -> list[str]:
        return ["good.z"]


class BadFindings(Good):
    def run(self, context: Any, params: PluginParams) -> PluginFindings:
        return PluginFindings("someone-else", self.title, "", (Metric("good.a", 1.0, "A"), Metric("good.x", 2.0, "X")))


def test_a_plugin_that_keeps_the_contract_passes_and_its_findings_come_back() -> None:
    found = check_plugin(Good(), UNUSED_CONTEXT, plan=PLAN)
    assert [m.path for m in found.metrics] == ["good.a", "good.b"]


def test_bad_declarations_are_listed_together() -> None:
    with pytest.raises(ContractViolation) as raised:
        check_plugin(BadDeclarations(), UNUSED_CONTEXT, plan=PLAN)
    assert [p.split(":")[0] for p in raised.value.problems] == ["name", "title", "Params"]
    assert "accepts an unknown key" in raised.value.problems[2]


def test_bad_paths_are_listed_together() -> None:
    with pytest.raises(ContractViolation) as raised:
        check_plugin(BadPaths(), UNUSED_CONTEXT, plan=PLAN)
    text = "\n".join(raised.value.problems)
    assert "listed twice: ['good.a']" in text
    assert "every path starts with 'good.'; got ['other.c']" in text
    assert "not nameable in a gate" in text and "'good.has space'" in text
    assert "headline_paths: 'good.z' is not among metric_paths" in text


def test_bad_findings_are_listed_together() -> None:
    with pytest.raises(ContractViolation) as raised:
        check_plugin(BadFindings(), UNUSED_CONTEXT, plan=PLAN)
    assert raised.value.problems == [
        "run: findings name plugin 'someone-else', not 'good'",
        "run: produced metric paths it did not declare: ['good.x']",
        "run: declared metric paths it did not produce: ['good.b'] (1 in all)",
    ]
    # Without ``exhaustive`` a plugin may leave declared paths out (e.g. figures a small sample cannot give).
    with pytest.raises(ContractViolation) as lenient:
        check_plugin(BadFindings(), UNUSED_CONTEXT, plan=PLAN, exhaustive=False)
    assert len(lenient.value.problems) == 2
