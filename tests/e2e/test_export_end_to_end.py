"""The model that is audited is the model that ships: a tabular audit run from the command line, its model
exported as ONNX, the ONNX model's scores of the test split equal to the scores the audit judged (predictions.csv),
and the export verified against the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from fmaudit.core.errors import ExitCode
from fmaudit.core.provenance import sha256_file
from fmaudit.data import prepare
from fmaudit.models.tabular import TabularClassifier
from fmaudit.spec import load_spec
from tests.support.runs import load_run, run_cli
from tests.support.specs import tabular_spec


@pytest.mark.slow
def test_the_exported_onnx_model_scores_the_test_split_as_the_audit_did(
    spec_dict: dict[str, Any], tmp_path: Path
) -> None:
    import onnxruntime

    path = tmp_path / "tabular.yaml"
    path.write_text(yaml.safe_dump(tabular_spec(spec_dict), sort_keys=False))
    cache = ["--cache-dir", str(tmp_path / "cache")]
    run = load_run(*run_cli(["run", str(path), "--out", str(tmp_path / "reports"), *cache, "--quiet"]))
    dest = tmp_path / "shipped"
    code, stdout = run_cli(["export", str(run.report_dir), str(dest), *cache])
    assert code == ExitCode.OK, stdout
    assert sha256_file(dest / "model.safetensors") == run.findings["provenance"]["weights_sha256"]

    data = prepare(load_spec(path).spec.data, base_dir=tmp_path)
    rows = data.frame.iloc[run.predictions["row_id"].to_numpy()]
    features = TabularClassifier.load(dest).encoder.transform(rows)
    (probabilities,) = onnxruntime.InferenceSession(str(dest / "model.onnx")).run(None, {"features": features})
    assert np.abs(probabilities[:, 1] - run.predictions["score"].to_numpy()).max() < 1e-6

    code, stdout = run_cli(["verify", str(run.report_dir), "--model", str(dest)])
    assert code == ExitCode.OK and "model.safetensors is the audited weights" in stdout
