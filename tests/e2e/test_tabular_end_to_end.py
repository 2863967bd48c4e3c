"""A whole tabular audit from the command line: the MLP trained, counterfactuals and attributions re-scored
through it, its gates passed, and every adverse decision given its notice in findings.json and notices.csv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fmaudit.core.errors import ExitCode
from tests.support.runs import load_run, run_cli
from tests.support.specs import tabular_spec


def test_a_tabular_audit_runs_end_to_end(spec_dict: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "tabular.yaml"
    path.write_text(yaml.safe_dump(tabular_spec(spec_dict), sort_keys=False))
    code, stdout = run_cli(
        ["run", str(path), "--out", str(tmp_path / "reports"), "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    )
    run = load_run(code, stdout)
    assert code == ExitCode.OK, stdout
    metrics = run.findings["metrics"]
    # The counterfactual changes the column the MLP reads and re-scores it.
    assert metrics["fairness"]["sex"]["counterfactual"]["mean_score_shift"]["value"] != 0
    assert metrics["explanations"]["integrated_gradients"]["sensitivity_max"]["value"] is not None
    assert run.findings["training"]["trained_modules"][0].startswith("MLP ")
    assert "tabular MLP" in run.html and "Adverse-action notices" in run.html
    assert [g["passed"] for g in run.findings["gates"]] == [True, True]
    # Every adverse decision has its notice, in findings.json and notices.csv; the report lays out a few.
    adverse = int((run.predictions["decision"] == 0).sum())
    assert metrics["explanations"]["notices"]["produced"]["value"] == adverse > 8
    notices = pd.read_csv(run.report_dir / "notices.csv")
    assert len(notices) == adverse and sorted(notices["Row"]) == sorted(
        run.predictions["row_id"][run.predictions["decision"] == 0]
    )
    section = next(s for s in run.findings["sections"] if s["plugin"] == "explanations")
    table = next(t for t in section["tables"] if t["title"].startswith("Adverse-action notices"))
    assert len(table["rows"]) == adverse
    laid_out = run.html.split(f"<caption>{table['title']}</caption>")[1].split("</table>")[0]
    assert laid_out.count("<tr>") == 1 + 8  # the header and the first eight notices
