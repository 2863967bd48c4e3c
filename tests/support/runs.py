"""A run through the command line, as the tests read it back: exit code, stdout, and the report's files."""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fmaudit.cli import main


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    report_dir: Path
    findings: dict[str, Any]
    predictions: pd.DataFrame
    html: str


def run_cli(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    return code, out.getvalue()


def load_run(code: int, stdout: str) -> Run:
    report_dir = Path(re.search(r"report: (.+)/report.html", stdout)[1])  # type: ignore[index]
    return Run(
        code=code,
        stdout=stdout,
        report_dir=report_dir,
        findings=json.loads((report_dir / "findings.json").read_text()),
        predictions=pd.read_csv(report_dir / "predictions.csv"),
        html=(report_dir / "report.html").read_text(),
    )


VOLATILE = {"seconds", "run_id", "timestamp", "command", "from_cache", "stages"}
"""What may differ between two runs of one spec: timings, the run's id and time, how it was invoked, and
whether the model (or an encoder vector) came from the cache (the second run finds the first one's)."""


def without_volatile(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: without_volatile(v) for k, v in node.items() if k not in VOLATILE}
    if isinstance(node, list):
        return [without_volatile(v) for v in node]
    return node
