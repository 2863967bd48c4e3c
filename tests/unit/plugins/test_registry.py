"""Plugin registry: built-ins, entry points, duplicates, contract checks, suggestions."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint

import pytest

from fmaudit.core.errors import PluginError, SpecError
from fmaudit.core.findings import Metric, PluginFindings
from fmaudit.plugins import registry
from fmaudit.plugins.base import AuditPlan, AuditPlugin, PluginParams


class EchoPlugin(AuditPlugin[PluginParams]):
    """A third-party plugin as a package would ship it."""

    name = "echo"
    title = "Echo"

    def metric_paths(self, params: PluginParams, plan: AuditPlan) -> list[str]:
        return ["echo.rows"]

    def run(self, context, params):  # type: ignore[no-untyped-def]
        return PluginFindings(
            plugin=self.name, title=self.title, summary="", metrics=(Metric("echo.rows", 1.0, "rows"),)
        )


class NotAPlugin:
    name = "stray"


@pytest.fixture
def third_party(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    module = types.ModuleType("thirdparty_fmaudit")
    module.EchoPlugin = EchoPlugin  # type: ignore[attr-defined]
    module.NotAPlugin = NotAPlugin  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "thirdparty_fmaudit", module)

    def install(*entries: tuple[str, str]) -> None:
        points = [EntryPoint(name=n, value=v, group=registry.ENTRY_POINT_GROUP) for n, v in entries]
        monkeypatch.setattr(
            registry, "entry_points", lambda group: points if group == registry.ENTRY_POINT_GROUP else []
        )

    return install


def test_every_builtin_loads_and_declares_its_name() -> None:
    for name in registry.BUILTINS:
        plugin = registry.lookup_plugin(name)
        assert plugin.name == name
        assert plugin.metric_paths(plugin.Params(), AuditPlan.placeholder())


def test_entry_point_plugin_is_found(third_party) -> None:  # type: ignore[no-untyped-def]
    third_party(("echo", "thirdparty_fmaudit:EchoPlugin"))
    assert "echo" in registry.available_plugins()
    assert isinstance(registry.lookup_plugin("echo"), EchoPlugin)


def test_autoload_kill_switch(third_party, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    third_party(("echo", "thirdparty_fmaudit:EchoPlugin"))
    monkeypatch.setenv("FMAUDIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "echo" not in registry.available_plugins()


def test_a_name_registered_twice_is_an_error(third_party) -> None:  # type: ignore[no-untyped-def]
    third_party(("fairness", "thirdparty_fmaudit:EchoPlugin"))
    with pytest.raises(PluginError, match="plugin name 'fairness' is registered twice"):
        registry.available_plugins()


def test_entry_point_must_be_an_audit_plugin(third_party) -> None:  # type: ignore[no-untyped-def]
    third_party(("stray", "thirdparty_fmaudit:NotAPlugin"))
    with pytest.raises(PluginError, match=r"is not a subclass of fmaudit\.plugins\.base\.AuditPlugin"):
        registry.lookup_plugin("stray")


def test_entry_point_name_must_match_the_class(third_party) -> None:  # type: ignore[no-untyped-def]
    third_party(("echo2", "thirdparty_fmaudit:EchoPlugin"))
    with pytest.raises(PluginError, match="declares name 'echo'"):
        registry.lookup_plugin("echo2")


def test_unknown_name_suggests_the_nearest() -> None:
    with pytest.raises(SpecError, match=r"unknown plugin 'robustnes'; did you mean 'robustness'\?"):
        registry.lookup_plugin("robustnes")
