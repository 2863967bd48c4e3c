"""One fast DP run (tabular MLP, its non-private twin, a two-point epsilon sweep) with every plugin a tabular
model can run: each plugin produces exactly the metric paths it declares, and each sweep point is its own model,
accounted for its own budget. Robustness attacks text: the harness holds it and every other family to the
contract on a tiny text model."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from fmaudit.core.errors import ExitCode
from fmaudit.engine.pipeline import plan
from fmaudit.plugins.registry import BUILTINS
from tests.support.runs import Run, load_run, run_cli
from tests.support.specs import GERMAN_CREDIT_SPEC, tabular_spec, tiny_spec


@pytest.fixture(scope="module")
def dp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    work = tmp_path_factory.mktemp("contract")
    spec: dict[str, Any] = tabular_spec(copy.deepcopy(GERMAN_CREDIT_SPEC))
    spec["training"] = {
        "epochs": 2,
        "batch_size": 32,
        "learning_rate": 5e-3,
        "privacy": {"target_epsilon": 8, "delta": 1e-4, "sweep": [1, 3]},
    }
    spec["audits"] = {
        "data": {"n_boot": 100},
        "performance": {"n_boot": 20},
        "fairness": {"n_boot": 20, "min_group_size": 5, "counterfactual_rows": 20},
        "explanations": {"samples": 6, "notices": 4, "n_steps": 8, "sensitivity_samples": 2, "infidelity_samples": 2},
        "privacy": {"n_boot": 20},
        "behaviour": {
            "rows": 10,
            "n_boot": 20,
            "monotonicity": {"duration_in_month": {"direction": "decreasing", "steps": [6]}},
        },
    }
    spec["gates"] = []
    path = work / "dp.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out, cache = str(work / "out"), str(work / "cache")
    code, stdout = run_cli(["run", str(path), "--out", out, "--cache-dir", cache, "--quiet"])
    assert code == ExitCode.OK, stdout
    return load_run(code, stdout), path


@pytest.mark.slow
def test_every_plugin_produces_exactly_the_metric_paths_it_declares(dp_run: tuple[Run, Path]) -> None:
    run, path = dp_run
    declared = plan(path).metric_paths
    produced = {s["plugin"]: {m["path"] for m in s["metrics"]} for s in run.findings["sections"]}
    assert set(produced) == set(BUILTINS) - {"robustness"}
    for plugin, paths in produced.items():
        assert paths == set(declared[plugin]), (plugin, set(declared[plugin]) ^ paths)
    # The DP-only paths are among them: the twin's cost and both sweep points.
    assert {"privacy.cost.accuracy_drop", "privacy.sweep.eps_1.epsilon", "privacy.sweep.eps_3.epsilon"} <= produced[
        "privacy"
    ]


@pytest.mark.slow
def test_an_epsilon_sweep_of_two_points_trains_and_accounts_each(dp_run: tuple[Run, Path]) -> None:
    from opacus.accountants import create_accountant

    run, _ = dp_run
    sweep = run.findings["metrics"]["privacy"]["sweep"]
    assert sorted(sweep) == ["eps_1", "eps_3"]
    listed = {m["label"]: m["training"] for m in run.findings["compared_models"] if m["role"] == "sweep"}
    assert len(listed) == 2
    weights = {t["weights_sha256"] for t in listed.values()} | {run.findings["training"]["weights_sha256"]}
    assert len(weights) == 3  # three different models, not one reported thrice
    for key, target in (("eps_1", 1), ("eps_3", 3)):
        (record,) = [t["privacy"] for t in listed.values() if t["privacy"]["target_epsilon"] == target]
        accountant = create_accountant(mechanism=record["accountant"])
        accountant.history = [(record["noise_multiplier"], record["sample_rate"], record["steps"])]
        fresh = accountant.get_epsilon(delta=record["delta"])
        assert sweep[key]["epsilon"]["value"] == pytest.approx(fresh, rel=1e-6)
        assert 0.9 * target <= fresh <= target * 1.01  # calibrated to its own target, not the audited model's
    # Less budget, more noise: the noise multiplier falls as epsilon grows.
    multipliers = [
        next(t["privacy"]["noise_multiplier"] for t in listed.values() if t["privacy"]["target_epsilon"] == e)
        for e in (1, 3)
    ] + [run.findings["training"]["privacy"]["noise_multiplier"]]
    assert multipliers == sorted(multipliers, reverse=True)
    section = next(s for s in run.findings["sections"] if s["plugin"] == "privacy")
    table = next(t for t in section["tables"] if t["title"] == "Epsilon sweep")
    assert len(table["rows"]) == 4  # the audited model, its twin and both sweep points


@pytest.mark.slow
def test_the_harness_holds_every_builtin_family_on_a_text_model(tiny_bert: Path, tmp_path: Path) -> None:
    """fmaudit.testing.check_plugin on each built-in family, robustness included, on one tiny text model: what
    a third-party author runs on theirs. Privacy reads the others' findings, so it runs last on them."""
    from fmaudit.core.findings import Findings
    from fmaudit.plugins.registry import lookup_plugin
    from fmaudit.testing import audit_context, check_plugin

    spec = tiny_spec(tiny_bert)
    spec["training"].pop("privacy")  # no twin or sweep: the harness audits the one model
    spec["audits"]["robustness"]["recipes"] = ["DeepWordBugGao2018", "Pruthi2019"]
    spec["gates"] = []
    path = tmp_path / "text.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    the_plan, context = audit_context(path, cache_dir=tmp_path / "cache")
    assert set(the_plan.plugins) == set(BUILTINS)
    sections = []
    for name in sorted(the_plan.plugins, key=lambda n: the_plan.plugins[n].reads_findings):
        seen = replace(context, findings=Findings(tuple(sections)))
        sections.append(check_plugin(lookup_plugin(name), seen, the_plan.params[name]))
    produced = {s.plugin for s in sections}
    assert produced == set(BUILTINS)
    attacked = next(s for s in sections if s.plugin == "robustness").metrics
    assert {m.path for m in attacked} >= {"robustness.Pruthi2019.attack_success_rate"}
