"""Spec validation: every problem named by file, key path, expectation and the value given."""

from __future__ import annotations

import pytest

from fmaudit.core.errors import SpecError
from fmaudit.engine.pipeline import plan


def problems(path) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError) as caught:
        plan(path)
    return caught.value.problems


def test_valid_spec_loads_with_typed_plugin_params(spec_dict, write_spec) -> None:
    spec_dict["audits"]["fairness"] = {"min_group_size": 5}
    the_plan = plan(write_spec(spec_dict))
    assert the_plan.loaded.spec.training.epochs == 1
    assert the_plan.params["fairness"].min_group_size == 5  # type: ignore[attr-defined]
    assert the_plan.params["fairness"].min_group_share == 0.02  # type: ignore[attr-defined]


def test_unknown_key_names_file_key_path_and_suggests(spec_dict, write_spec) -> None:
    spec_dict["training"]["epoch"] = 3
    path = write_spec(spec_dict)
    [line] = problems(path)
    assert line.startswith(f"{path}: training.epoch: unknown key (did you mean 'epochs'?)")
    assert "learning_rate" in line


def test_wrong_type_names_key_and_value(spec_dict, write_spec) -> None:
    spec_dict["training"]["epochs"] = "three"
    [line] = problems(write_spec(spec_dict))
    assert "training.epochs: " in line and "integer" in line and "'three'" in line


def test_every_problem_is_reported_at_once(spec_dict, write_spec) -> None:
    spec_dict["training"]["batch_size"] = 0
    spec_dict["data"]["split"]["test_size"] = 1.5
    del spec_dict["data"]["label"]
    found = problems(write_spec(spec_dict))
    assert len(found) == 3
    assert any("data.label: required key is missing" in p for p in found)
    assert any("data.split.test_size" in p for p in found)
    assert any("training.batch_size" in p for p in found)


def test_schema_data_plugin_and_gate_problems_are_reported_together(spec_dict, write_spec) -> None:  # type: ignore[no-untyped-def]
    """A key typo, a bad plugin parameter, an unknown format and an unknown gate metric: one run of
    validate lists them all, each with its file and key."""
    spec_dict["training"]["epoch"] = 3
    spec_dict["audits"]["fairness"] = {"n_boots": 10}
    spec_dict["output"] = {"formats": ["html", "pfd"]}
    spec_dict["gates"] = ["performance.roc_aux >= 0.6", "not a gate"]
    path = write_spec(spec_dict)
    found = problems(path)
    assert all(line.startswith(f"{path}: ") for line in found)
    assert any("training.epoch: unknown key (did you mean 'epochs'?)" in p for p in found)
    assert any("audits.fairness.n_boots: unknown key (did you mean 'n_boot'?)" in p for p in found)
    assert any("output.formats" in p and "'pfd'" in p for p in found)
    assert len(found) == 3  # a plugin's bad parameters leave its metric paths unknown: gates are not checked
    spec_dict["audits"]["fairness"] = {}
    found = problems(write_spec(spec_dict))
    assert any("training.epoch: unknown key" in p for p in found)
    assert any("'performance.roc_aux'" in p and "did you mean: performance.roc_auc" in p for p in found)
    assert any("gates: gate 'not a gate' is not of the form" in p for p in found)
    # A wrong label column is found with the typo; a bad value in a section the paths depend on stops the gates.
    spec_dict["data"]["label"] = "creditworthiness"
    spec_dict["training"]["epochs"] = "three"
    found = problems(write_spec(spec_dict))
    assert any("training.epoch: unknown key" in p for p in found) and any("training.epochs: " in p for p in found)
    assert any("data.label: column 'creditworthiness' not found" in p for p in found)


def test_unknown_plugin_is_named_with_suggestion(spec_dict, write_spec) -> None:
    spec_dict["audits"]["fairnes"] = {}
    [line] = problems(write_spec(spec_dict))
    assert "audits.fairnes: unknown plugin 'fairnes'; did you mean 'fairness'?" in line


def test_plugin_parameter_errors_carry_the_full_key_path(spec_dict, write_spec) -> None:
    spec_dict["audits"]["robustness"] = {"recipes": ["TextFoolerJin2019"], "sample": 3}
    found = problems(write_spec(spec_dict))
    assert any("audits.robustness.recipes: unknown recipe 'TextFoolerJin2019'" in p for p in found)
    assert any("audits.robustness.sample: unknown key (did you mean 'samples'?)" in p for p in found)


def test_bad_gate_syntax(spec_dict, write_spec) -> None:
    spec_dict["gates"] = ["performance.roc_auc => 0.7"]
    [line] = problems(write_spec(spec_dict))
    assert "gates" in line and "'<metric path> <op> <number>'" in line


def test_intersection_must_name_declared_attributes(spec_dict, write_spec) -> None:
    spec_dict["data"]["intersections"] = [["sex", "race"]]
    [line] = problems(write_spec(spec_dict))
    assert "data.intersections" in line or "data: " in line
    assert "['race']" in line


def test_bins_need_one_label_per_bin(spec_dict, write_spec) -> None:
    spec_dict["data"]["sensitive"]["age_group"]["labels"] = ["young"]
    [line] = problems(write_spec(spec_dict))
    assert "data.sensitive.age_group" in line and "'labels' needs 2 names" in line


def test_missing_file_and_non_mapping(tmp_path, write_spec) -> None:
    assert problems(tmp_path / "absent.yaml") == [f"{tmp_path / 'absent.yaml'}: no such spec file"]
    [line] = problems(write_spec("- just\n- a list\n"))
    assert "expected a mapping" in line


def test_invalid_yaml(write_spec) -> None:
    [line] = problems(write_spec("name: [unclosed\n"))
    assert "not valid YAML" in line


def test_output_mlflow_names_a_bad_key_and_a_blank_experiment(spec_dict, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec_dict["output"] = {"mlflow": {"tracking_url": "file:mlruns", "experiment": " "}}
    path = write_spec(spec_dict)
    assert problems(path) == [
        f"{path}: output.mlflow.experiment: must be a non-blank string; got ' '",
        f"{path}: output.mlflow.tracking_url: unknown key (did you mean 'tracking_uri'?); "
        "expected one of: tracking_uri, experiment",
    ]
