"""The plugin registry: built-ins listed here, third-party plugins through the
``fmaudit.plugins`` entry-point group. Plugins are imported only when named.

A third-party package adds a plugin with, in its pyproject.toml::

    [project.entry-points."fmaudit.plugins"]
    my_check = "my_package.module:MyPlugin"

Setting ``FMAUDIT_DISABLE_PLUGIN_AUTOLOAD=1`` ignores entry points (built-ins only).
"""

from __future__ import annotations

import difflib
import importlib
import os
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from fmaudit.core.errors import PluginError, SpecError
from fmaudit.plugins.base import AuditPlugin
from fmaudit.spec import LoadedSpec, PluginParams, format_validation_errors

ENTRY_POINT_GROUP = "fmaudit.plugins"

BUILTINS: dict[str, str] = {
    "performance": "fmaudit.families.performance.plugin:PerformancePlugin",
    "fairness": "fmaudit.families.fairness.plugin:FairnessPlugin",
    "explanations": "fmaudit.families.explanations.plugin:ExplanationsPlugin",
    "robustness": "fmaudit.families.robustness.plugin:RobustnessPlugin",
    "privacy": "fmaudit.families.privacy.plugin:PrivacyPlugin",
    "behaviour": "fmaudit.families.behaviour.plugin:BehaviourPlugin",
    "data": "fmaudit.families.data.plugin:DataPlugin",
}


def available_plugins() -> dict[str, str]:
    """Plugin name -> ``"module:attr"`` for built-ins and installed entry points."""
    found = dict(BUILTINS)
    if os.environ.get("FMAUDIT_DISABLE_PLUGIN_AUTOLOAD"):
        return found
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in found and found[entry.name] != entry.value:
            raise PluginError(
                f"plugin name {entry.name!r} is registered twice: {found[entry.name]} and {entry.value} "
                f"(entry point of {entry.dist.name if entry.dist else 'an unknown package'})"
            )
        found[entry.name] = entry.value
    return found


def lookup_plugin(name: str) -> AuditPlugin[Any]:
    """Import and instantiate the plugin called ``name``; an unknown name is a SpecError."""
    plugins = available_plugins()
    if name not in plugins:
        near = difflib.get_close_matches(name, list(plugins), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise SpecError(f"unknown plugin {name!r}; {hint}registered plugins: {', '.join(sorted(plugins))}")
    target = plugins[name]
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"plugin {name!r}: cannot load {target}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, AuditPlugin)):
        raise PluginError(f"plugin {name!r}: {target} is not a subclass of fmaudit.plugins.base.AuditPlugin")
    if getattr(cls, "name", None) != name:
        raise PluginError(f"plugin {name!r}: {target} declares name {getattr(cls, 'name', None)!r}")
    return cls()


def resolve_plugins(loaded: LoadedSpec) -> tuple[dict[str, AuditPlugin[Any]], dict[str, PluginParams]]:
    """Each plugin the spec names, with its ``audits.<name>`` section validated by the plugin's own Params
    model; a SpecError lists every unknown plugin and every bad parameter at once, by file and key path."""
    where = str(loaded.path)
    problems: list[str] = []
    plugins: dict[str, AuditPlugin[Any]] = {}
    params: dict[str, PluginParams] = {}
    for name, raw in loaded.spec.audits.items():
        try:
            plugin = lookup_plugin(name)
        except SpecError as exc:
            problems.append(f"{where}: audits.{name}: {exc}")
            continue
        try:
            params[name] = plugin.Params.model_validate(raw)
        except ValidationError as exc:
            problems.extend(f"{where}: audits.{name}.{line}" for line in format_validation_errors(exc, plugin.Params))
            continue
        plugins[name] = plugin
    if problems:
        raise SpecError(problems)
    return plugins, params
