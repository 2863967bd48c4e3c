"""A harness for plugin authors: hold any audit plugin, built-in or third-party, to the plugin contract.

    from fmaudit.testing import audit_context, check_plugin

    the_plan, context = audit_context("audits/my-check.yaml", cache_dir=tmp_path)
    findings = check_plugin(MyCheck(), context, plan=the_plan.audit_plan)

``check_plugin`` collects every breach it finds and raises one ``ContractViolation`` listing them all.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fmaudit.core.findings import PluginFindings
from fmaudit.engine.pipeline import context_for
from fmaudit.engine.planning import Plan, plan
from fmaudit.engine.trainer import ModelTrainer, StageClock
from fmaudit.metrics.gates import GATE_PATTERN
from fmaudit.plugins.base import AuditPlugin
from fmaudit.plugins.context import AuditContext, AuditPlan
from fmaudit.spec import PluginParams

__all__ = ["ContractViolation", "audit_context", "check_plugin"]

NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class ContractViolation(AssertionError):
    """A plugin breaks the contract; ``problems`` lists every breach, one per line."""

    def __init__(self, plugin: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"plugin {plugin!r} breaks the plugin contract:\n" + "\n".join(f"- {p}" for p in problems))


def audit_context(spec_path: str | Path, *, cache_dir: Path, show_progress: bool = False) -> tuple[Plan, AuditContext]:
    """Plan ``spec_path``, train (or load from ``cache_dir``) its model and score the test split: the context a
    plugin receives in ``fmaudit run``, with the membership rows when a planned plugin asks for them."""
    the_plan = plan(spec_path)
    training = the_plan.loaded.spec.training
    models = ModelTrainer(
        the_plan, cache_dir=cache_dir, progress=lambda message: None, show_progress=show_progress, clock=StageClock()
    )
    model, record, predictions = models.train_and_score("model", training)
    context = context_for(the_plan, model, record, predictions, cache_dir=cache_dir, show_progress=show_progress)
    return the_plan, replace(context, membership=models.membership_inputs(training))


def check_plugin(
    plugin: AuditPlugin[Any],
    context: AuditContext,
    params: PluginParams | None = None,
    *,
    plan: AuditPlan | None = None,
    exhaustive: bool = True,
) -> PluginFindings:
    """Run ``plugin`` on ``context`` and check what the pipeline relies on: a name and a strict ``Params`` model,
    metric paths under the plugin's name that gates can name, headline paths among them, typed findings that
    produce only declared paths (all of them with ``exhaustive``) and serialise to findings.json. Returns the
    findings for further assertions; raises ``ContractViolation`` listing every breach."""
    name = getattr(plugin, "name", None)
    problems = _declaration_problems(plugin)
    if problems:
        raise ContractViolation(str(name), problems)
    the_plan = plan or context.plan
    params = params if params is not None else plugin.Params()
    problems += [f"check: {p}" for p in plugin.check(params, the_plan)]
    declared = plugin.metric_paths(params, the_plan)
    problems += _path_problems(plugin.name, declared)
    problems += [
        f"headline_paths: {p!r} is not among metric_paths"
        for p in plugin.headline_paths(params, the_plan)
        if p not in declared
    ]
    try:
        plugin.metric_paths(params, AuditPlan.placeholder())
    except Exception as exc:  # `fmaudit plugins` lists paths for a placeholder plan
        problems.append(f"metric_paths fails on AuditPlan.placeholder() ('fmaudit plugins' calls it): {exc!r}")
    if problems:
        raise ContractViolation(plugin.name, problems)
    findings = plugin.run(context, params)
    if not isinstance(findings, PluginFindings):
        raise ContractViolation(plugin.name, [f"run returned {type(findings).__name__}, not PluginFindings"])
    problems += _findings_problems(plugin.name, findings, declared, exhaustive=exhaustive)
    if problems:
        raise ContractViolation(plugin.name, problems)
    return findings


def _declaration_problems(plugin: AuditPlugin[Any]) -> list[str]:
    if not isinstance(plugin, AuditPlugin):
        return [f"{type(plugin).__name__} is not a subclass of fmaudit.plugins.base.AuditPlugin"]
    problems = []
    if not isinstance(getattr(plugin, "name", None), str) or not NAME.match(plugin.name):
        problems.append(f"name: expected lower-case letters, digits, '_' or '-'; got {getattr(plugin, 'name', None)!r}")
    if not isinstance(getattr(plugin, "title", None), str) or not plugin.title:
        problems.append("title: expected a non-empty string (the report's section heading)")
    if not (isinstance(plugin.Params, type) and issubclass(plugin.Params, PluginParams)):
        problems.append("Params: expected a subclass of fmaudit.spec.PluginParams")
        return problems
    try:
        plugin.Params.model_validate({"no_such_key_in_any_spec": 1})
        problems.append("Params: accepts an unknown key (a typo in the spec would pass silently)")
    except ValidationError:
        pass
    return problems


def _path_problems(name: str, declared: list[str]) -> list[str]:
    problems = []
    if len(set(declared)) != len(declared):
        problems.append(f"metric_paths: listed twice: {sorted({p for p in declared if declared.count(p) > 1})[:5]}")
    outside = [p for p in declared if not p.startswith(f"{name}.")]
    if outside:
        problems.append(f"metric_paths: every path starts with '{name}.'; got {outside[:5]}")
    ungateable = [p for p in declared if not GATE_PATTERN.match(f"{p} >= 0")]
    if ungateable:
        problems.append(f"metric_paths: not nameable in a gate (letters, digits, '_', '-', '.'): {ungateable[:5]}")
    return problems


def _findings_problems(name: str, findings: PluginFindings, declared: list[str], *, exhaustive: bool) -> list[str]:
    problems = []
    if findings.plugin != name:
        problems.append(f"run: findings name plugin {findings.plugin!r}, not {name!r}")
    produced = [m.path for m in findings.metrics]
    undeclared = sorted(set(produced) - set(declared))
    if undeclared:
        problems.append(f"run: produced metric paths it did not declare: {undeclared[:5]}")
    missing = sorted(set(declared) - set(produced))
    if exhaustive and missing:
        problems.append(f"run: declared metric paths it did not produce: {missing[:5]} ({len(missing)} in all)")
    try:
        json.dumps(asdict(findings), allow_nan=False)
    except (TypeError, ValueError) as exc:
        problems.append(f"run: findings do not serialise to findings.json: {exc}")
    return problems
