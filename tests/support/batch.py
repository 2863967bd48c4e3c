"""Several specs for one run (``fmaudit run a.yaml b.yaml c.yaml``): one passes, one fails its gate, one is
invalid; and the check of the verdict table such a run prints."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from fmaudit.core.errors import ExitCode
from tests.support.specs import GERMAN_CREDIT_SPEC


def quick_tabular_spec(**changes: Any) -> dict[str, Any]:
    """A spec that trains in seconds: a small MLP on 200 rows, audited for performance only."""
    spec = copy.deepcopy(GERMAN_CREDIT_SPEC)
    spec["model"] = {"kind": "tabular", "hidden": [8]}
    spec["data"]["max_rows"] = 200
    spec["training"] = {"epochs": 2, "batch_size": 32, "learning_rate": 0.01}
    spec["audits"] = {"performance": {"n_boot": 50}}
    spec["gates"] = ["performance.accuracy >= 0.1"]
    spec.update(changes)
    return spec


def many_specs(write_spec) -> list[Path]:  # type: ignore[no-untyped-def]
    """A spec that passes, one whose gate fails (exit 1) and one whose gate names no metric (exit 2)."""
    return [
        write_spec(quick_tabular_spec(name="passes"), "passes.yaml"),
        write_spec(quick_tabular_spec(name="fails", gates=["performance.accuracy >= 0.999"]), "fails.yaml"),
        write_spec(quick_tabular_spec(name="invalid", gates=["performance.no_such_figure >= 0"]), "invalid.yaml"),
    ]


def check_verdicts(code: int, out: str, specs: list[Path], reports: Path) -> None:
    """The worst exit code, one table row per spec in order with its gate counts and exit, reports for the valid."""
    assert code == ExitCode.INPUT_ERROR
    # The table, from its header (Ray's log monitor may print lines of its own to stdout before it).
    lines = out.splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("spec ")) :]
    assert lines[0].split() == ["spec", "model", "gates", "passed", "gates", "failed", "exit", "report"]
    rows = [line for line in lines if line.startswith(str(specs[0].parent))]
    assert [row.split()[0] for row in rows[:3]] == [str(s) for s in specs]
    assert rows[0].split()[-4:-1] == ["1", "0", "0"] and str(reports / "passes") in rows[0]
    assert rows[1].split()[-4:-1] == ["0", "1", "1"] and str(reports / "fails") in rows[1]
    assert rows[2].split()[-4:] == ["0", "0", "2", "-"]
    assert f"{specs[2]}: SpecError: " in out and "performance.no_such_figure" in out
    assert "3 specs, 1 passed; exit code 2" in lines
    assert sorted(p.name for p in reports.iterdir()) == ["fails", "passes"]
    assert (next((reports / "passes").iterdir()) / "findings.json").is_file()
