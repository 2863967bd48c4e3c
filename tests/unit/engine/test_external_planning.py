"""Planning a run of a model trained elsewhere (``model.source``): what the spec may and may not say, which
rows are training rows, and which plugins (or parts of them) the source can serve: all before any work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fmaudit.core.errors import InputError
from fmaudit.engine.pipeline import plan


def _external(spec: dict[str, Any], tmp_path: Path, **source: Any) -> dict[str, Any]:
    (tmp_path / "scores.csv").write_text("row,score\n0,0.5\n")
    spec.pop("training")
    spec["model"] = {"source": {"format": "scores", "path": "scores.csv", **source}}
    return spec


def _problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:  # spec problems, or data problems alone
        plan(path)
    return str(caught.value).splitlines()


def test_a_training_section_beside_a_source_is_a_spec_error(spec_dict, write_spec, tmp_path: Path) -> None:
    spec = _external(spec_dict, tmp_path)
    spec["training"] = {"epochs": 2}
    spec["model"]["base"] = "minilm"
    lines = _problems(write_spec(spec))
    assert any("training: model.source names a model trained elsewhere" in line for line in lines)
    assert any("model.base: configures a model fmaudit trains" in line for line in lines)


def test_a_key_of_another_format_is_named(spec_dict, write_spec, tmp_path: Path) -> None:
    spec = _external(spec_dict, tmp_path, trusted=["sklearn.x"], max_length=64)
    lines = _problems(write_spec(spec))
    assert any("model.source.trusted: used by format skops only; this source is scores" in line for line in lines)
    assert any("model.source.max_length: used by format huggingface or peft only" in line for line in lines)


def test_a_skops_or_onnx_source_is_a_tabular_model(spec_dict, write_spec, tmp_path: Path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"")
    spec = _external(spec_dict, tmp_path)
    spec["model"] = {"source": {"format": "onnx", "path": "m.onnx"}}
    assert plan(write_spec(spec)).audit_plan.model_kind == "tabular"
    spec["model"]["kind"] = "text"
    assert any("model.kind: a onnx source is a tabular model" in line for line in _problems(write_spec(spec)))


def test_a_missing_source_path_is_named(spec_dict, write_spec, tmp_path: Path) -> None:
    spec = _external(spec_dict, tmp_path)
    spec["model"]["source"]["path"] = "absent.csv"
    assert any(line.endswith(f"model.source.path: not found: {tmp_path / 'absent.csv'}") for line in _problems(
        write_spec(spec)
    ))


def test_trained_on_fixes_the_split(spec_dict, write_spec, tmp_path: Path) -> None:
    ids = np.arange(0, 1000, 3)
    pd.DataFrame({"row": ids}).to_csv(tmp_path / "train.csv", index=False)
    spec = _external(spec_dict, tmp_path, trained_on={"file": "train.csv"})
    data = plan(write_spec(spec)).data
    assert np.array_equal(data.train_idx, ids) and len(data.test_idx) == 1000 - len(ids)
    spec["model"]["source"]["trained_on"] = {"column": "foreign_worker", "value": "yes"}
    data = plan(write_spec(spec)).data
    assert (data.frame.loc[data.train_idx, "foreign_worker"] == "yes").all()
    assert (data.frame.loc[data.test_idx, "foreign_worker"] == "no").all()


def test_training_row_ids_that_are_not_rows_are_named(spec_dict, write_spec, tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("row\n1\n2\n1001\n")
    spec = _external(spec_dict, tmp_path, trained_on={"file": "train.csv"})
    [line] = _problems(write_spec(spec))
    assert "model.source.trained_on.file: 1 row id(s) in train.csv are not rows of the data (e.g. '1001')" in line
    spec["data"]["id"] = "no_such_column"
    assert any("data.id: column 'no_such_column' not found" in line for line in _problems(write_spec(spec)))


def test_a_scores_file_refuses_the_plugins_that_need_the_model(spec_dict, write_spec, tmp_path: Path) -> None:
    spec = _external(spec_dict, tmp_path)
    spec["audits"] = {"performance": {}, "fairness": {"counterfactual": True}, "explanations": {}, "behaviour": {}}
    lines = _problems(write_spec(spec))
    assert any("audits.explanations: needs the model" in line for line in lines)
    assert any("audits.behaviour: " in line for line in lines)
    assert any("audits.fairness.counterfactual: re-scores rows" in line for line in lines)
    assert not any("audits.performance" in line for line in lines)


def test_defaults_a_source_cannot_serve_are_switched_off(spec_dict, write_spec, tmp_path: Path) -> None:
    spec = _external(spec_dict, tmp_path)
    spec["audits"] = {"performance": {}, "fairness": {}, "privacy": {}}
    the_plan = plan(write_spec(spec))
    assert the_plan.params["fairness"].counterfactual is False  # type: ignore[attr-defined]
    assert the_plan.params["privacy"].membership is False  # type: ignore[attr-defined]
    assert not any("counterfactual" in p for p in the_plan.metric_paths["fairness"])
    assert the_plan.membership_request is None


def test_membership_inference_asks_for_the_training_rows(spec_dict, write_spec, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    spec = _external(spec_dict, tmp_path)
    spec["model"] = {"source": {"format": "huggingface", "path": "model"}}
    spec["audits"] = {"performance": {}, "privacy": {"membership": True, "reference_model": True}}
    lines = _problems(write_spec(spec))
    assert any("audits.privacy.membership: membership inference needs to know which rows" in line for line in lines)
    assert any("audits.privacy.reference_model: a reference model must be trained like" in line for line in lines)
    (tmp_path / "train.csv").write_text("row\n1\n2\n3\n")
    spec["model"]["source"]["trained_on"] = {"file": "train.csv"}
    spec["audits"]["privacy"] = {}
    request = plan(write_spec(spec)).membership_request
    assert request is not None and not request.reference_model
