"""A new audit family and a new output format, each as one package outside fmaudit plus one entry point:
installed on sys.path as a real distribution, found through the registries, given the rows it declares it
needs, gated, and rendered by every registered format. No fmaudit module is edited to add them."""

from __future__ import annotations

import copy
import csv
import json
import textwrap
from pathlib import Path

import pytest
import yaml

from fmaudit.core.errors import ExitCode
from fmaudit.plugins import registry
from fmaudit.report import formats
from fmaudit.testing import audit_context, check_plugin
from tests.support.runs import run_cli
from tests.support.specs import GERMAN_CREDIT_SPEC, tabular_spec

PLUGIN = '''
from __future__ import annotations

from fmaudit.plugins import AuditContext, AuditPlan, AuditPlugin, MembershipRequest, Metric, PluginFindings
from fmaudit.plugins import PluginParams, Table


class ToyParams(PluginParams):
    members: int = 40


class ToyPlugin(AuditPlugin[ToyParams]):
    """The share of favourable decisions, and how many member rows the engine drew for it."""

    name = "toy"
    title = "Toy family"
    Params = ToyParams

    def metric_paths(self, params: ToyParams, plan: AuditPlan) -> list[str]:
        return ["toy.favourable_share", "toy.members"]

    def headline_paths(self, params: ToyParams, plan: AuditPlan) -> list[str]:
        return ["toy.favourable_share"]

    def membership_request(self, params: ToyParams, plan: AuditPlan) -> MembershipRequest:
        return MembershipRequest(size=params.members, seed=3, reference_model=False)

    def run(self, context: AuditContext, params: ToyParams) -> PluginFindings:
        assert context.membership is not None, "the engine provides the rows a plugin declares it needs"
        share = float(context.predictions.decisions.mean())
        members = len(context.membership.sets.members)
        return PluginFindings(
            plugin=self.name,
            title=self.title,
            summary=f"{share:.0%} favourable",
            metrics=(
                Metric("toy.favourable_share", share, "Favourable share", "none"),
                Metric("toy.members", float(members), "Member rows drawn", "none"),
            ),
            tables=(Table("Toy table", ("rows", "share"), ((len(context.predictions.scores), round(share, 3)),)),),
        )
'''

FORMAT = '''
from __future__ import annotations

import csv
import io

from fmaudit.report.formats import OutputFormat, RenderOptions
from fmaudit.report.schema import FindingsDocument


def render(document: FindingsDocument, options: RenderOptions) -> dict[str, bytes]:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\\n")
    writer.writerow(["gate", "observed", "passed"])
    writer.writerows([gate["gate"], gate["observed"], gate["passed"]] for gate in document["gates"])
    return {"gates.csv": text.getvalue().encode("utf-8")}


GATES_CSV = OutputFormat("gates-csv", ("gates.csv",), render, "every gate as a CSV row")
'''


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The toy distribution installed on sys.path (its own package and dist-info, as pip would leave them)."""
    site = tmp_path / "site-packages"
    (site / "toy_family").mkdir(parents=True)
    (site / "toy_family" / "__init__.py").write_text("")
    (site / "toy_family" / "plugin.py").write_text(PLUGIN)
    (site / "toy_family" / "formats.py").write_text(FORMAT)
    info = site / "toy_family-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-family\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [fmaudit.plugins]
            toy = toy_family.plugin:ToyPlugin

            [fmaudit.formats]
            gates-csv = toy_family.formats:GATES_CSV
            """
        )
    )
    monkeypatch.delenv("FMAUDIT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.syspath_prepend(str(site))
    return site


def toy_spec(tmp_path: Path) -> Path:
    spec = tabular_spec(copy.deepcopy(GERMAN_CREDIT_SPEC))
    spec["audits"] = {"performance": {"n_boot": 20}, "toy": {"members": 25}}
    spec["gates"] = ["toy.favourable_share <= 1", "toy.members >= 25", "performance.roc_auc >= 0"]
    spec["output"] = {"formats": list(formats.available_formats())}
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_the_registries_find_the_installed_family_and_format(installed: Path) -> None:
    assert registry.available_plugins()["toy"] == "toy_family.plugin:ToyPlugin"
    assert list(formats.available_formats()) == ["html", "pdf", "pdf-full", "md", "junit", "model-card", "gates-csv"]
    assert not Path(registry.lookup_plugin("toy").__module__.replace(".", "/")).is_relative_to("fmaudit")
    code, stdout = run_cli(["formats"])
    assert code == ExitCode.OK and "gates-csv  (every gate as a CSV row): gates.csv" in stdout


@pytest.mark.slow
def test_a_new_family_runs_end_to_end_through_gates_and_every_format(installed: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    code, stdout = run_cli(["run", str(toy_spec(tmp_path)), "--out", str(out), "--cache-dir", str(cache), "--quiet"])
    assert code == ExitCode.OK, stdout
    [run_dir] = (out / "tiny").iterdir()
    findings = json.loads((run_dir / "findings.json").read_text())
    assert findings["metrics"]["toy"]["members"]["value"] == 25  # the rows it asked for, drawn by the engine
    assert [g["gate"] for g in findings["gates"] if g["passed"]] == [
        "toy.favourable_share <= 1",
        "toy.members >= 25",
        "performance.roc_auc >= 0",
    ]
    with (run_dir / "gates.csv").open() as handle:
        assert [row["gate"] for row in csv.DictReader(handle)][:2] == ["toy.favourable_share <= 1", "toy.members >= 25"]
    assert "Toy family" in (run_dir / "report.html").read_text()
    assert (run_dir / "report.pdf").read_bytes().startswith(b"%PDF")
    assert "toy.members" in (run_dir / "junit.xml").read_text()
    assert "Toy family" in (run_dir / "summary.md").read_text()
    assert (run_dir / "model-card" / "README.md").is_file()
    assert "gates.csv" in json.loads((run_dir / "manifest.json").read_text())["files"]
    assert run_cli(["verify", str(run_dir)])[0] == ExitCode.OK


@pytest.mark.slow
def test_the_harness_holds_a_third_party_plugin_to_the_contract(installed: Path, tmp_path: Path) -> None:
    the_plan, context = audit_context(toy_spec(tmp_path), cache_dir=tmp_path / "cache")
    plugin = registry.lookup_plugin("toy")
    found = check_plugin(plugin, context, the_plan.params["toy"])
    assert [m.path for m in found.metrics] == ["toy.favourable_share", "toy.members"]
