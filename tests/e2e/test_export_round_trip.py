"""The audited model is the model that ships: a model fmaudit trained, exported with ``fmaudit export`` and audited
again as a model trained elsewhere (``model.source``), gives the same performance, fairness, explanations and
behaviour figures; only the privacy section differs (fmaudit cannot vouch for how an outside model was trained)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from fmaudit.cli import main
from fmaudit.engine.pipeline import plan, run
from tests.support.specs import GERMAN_CREDIT_SPEC

pytestmark = pytest.mark.slow

AUDITS = {
    "performance": {"n_boot": 200},
    "fairness": {"min_group_size": 5, "n_boot": 200, "counterfactual_rows": 50},
    "explanations": {"samples": 6, "notices": 4, "n_steps": 8, "chunk_size": 6},
    "behaviour": {"rows": 30, "n_boot": 50},
    "privacy": {"n_boot": 100, "members": 50},
}
COMPARED = ("performance.", "fairness.", "explanations.", "behaviour.")


def _metrics(report_dir: Path) -> dict[str, dict[str, Any]]:
    findings = json.loads((report_dir / "findings.json").read_text())
    return {m["path"]: m for section in findings["sections"] for m in section["metrics"]}


def test_auditing_the_export_reproduces_the_audit(tiny_bert: Path, tmp_path: Path) -> None:
    spec: dict[str, Any] = copy.deepcopy(GERMAN_CREDIT_SPEC)
    spec["model"] = {"base": str(tiny_bert)}
    spec["data"]["max_rows"] = 300  # row ids are then row numbers in the file, not positions in the sample
    spec["training"] = {"epochs": 1, "batch_size": 32, "max_length": 64, "train_layers": "all", "learning_rate": 1e-3}
    spec["audits"], spec["gates"] = AUDITS, ["performance.roc_auc >= 0"]
    trained_spec = tmp_path / "trained.yaml"
    trained_spec.write_text(yaml.safe_dump(spec))
    cache = tmp_path / "cache"
    audited = run(trained_spec, out=tmp_path / "reports", cache_dir=cache, show_progress_bars=False)

    export = tmp_path / "export"
    assert main(["export", str(audited.report_dir), str(export), "--cache-dir", str(cache)]) == 0
    data = plan(trained_spec).data
    assert data.ids is not None
    pd.DataFrame({"row": data.ids[data.train_idx]}).to_csv(tmp_path / "train_ids.csv", index=False)
    spec.pop("training")
    spec["model"] = {"source": {"format": "huggingface", "path": "export", "trained_on": {"file": "train_ids.csv"}}}
    external_spec = tmp_path / "external.yaml"
    external_spec.write_text(yaml.safe_dump(spec))
    again = run(external_spec, out=tmp_path / "reports", cache_dir=cache, show_progress_bars=False)

    before, after = _metrics(audited.report_dir), _metrics(again.report_dir)
    compared = [path for path in before if path.startswith(COMPARED)]
    assert len(compared) > 100 and set(compared) <= set(after)
    for path in compared:
        for key in ("value", "ci_low", "ci_high"):
            a, b = before[path].get(key), after[path].get(key)
            assert (a is None) == (b is None), (path, key)
            if a is not None:
                assert b == pytest.approx(a, abs=1e-6), (path, key)
    # What cannot match: the DP statement (fmaudit trained the first model, not the second) and the calibrated
    # membership attack, which needs a reference model trained like the audited one.
    assert before["privacy.dp"]["value"] == 0 and after["privacy.dp"]["value"] is None
    assert "privacy.mia.calibrated.auc" in before and "privacy.mia.calibrated.auc" not in after
    assert after["privacy.mia.loss.auc"]["value"] == pytest.approx(before["privacy.mia.loss.auc"]["value"])
    assert main(["verify", str(audited.report_dir), "--model", str(export)]) == 0
