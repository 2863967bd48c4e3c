"""Audits of several specs in one command (``fmaudit run a.yaml b.yaml ...``), e.g. candidate models: one job per
spec on the executor (concurrent Ray tasks, or one after another locally), one verdict table, the worst exit code.

A spec that fails (bad input, a job Ray gave up on, a bug) is a row of the table with its exit code; the others
still run and write their reports.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fmaudit.core.errors import ExitCode, FmauditError
from fmaudit.core.executor import Executor, ExecutorName, executor_from

if TYPE_CHECKING:
    from fmaudit.report.write import OutputOptions
    from fmaudit.spec import Spec


@dataclass(frozen=True)
class SpecRun:
    """How to run one spec of the batch; plain values, so the job can travel to another machine."""

    spec: Path
    out: Path | None
    cache_dir: Path | None
    command: str
    quiet: bool
    options_for: Callable[[Spec], OutputOptions]
    """The run's output options for this spec (its own ``output`` section under the command's flags)."""
    executor: ExecutorName
    """The executor the spec's own training jobs and attacks run on (on Ray: the cluster this job runs in)."""


@dataclass(frozen=True)
class Verdict:
    """One row of the verdict table."""

    spec: Path
    model: str
    passed: int
    failed: int
    exit_code: int
    report_dir: Path | None
    error: str = ""


def audit_specs(runs: list[SpecRun], executor: Executor) -> list[Verdict]:
    """Every spec's verdict, in the order given."""
    return executor.map(audit_spec, runs)


def audit_spec(job: SpecRun) -> Verdict:
    """Run one spec as ``fmaudit run`` would, returning its verdict instead of raising."""
    from fmaudit.engine.pipeline import run
    from fmaudit.spec import load_spec

    name = job.spec.name
    try:
        spec = load_spec(job.spec).spec
        model = spec.model.describe() + (", DP-SGD" if spec.training.privacy else "")
        result = run(
            job.spec,
            out=job.out,
            cache_dir=job.cache_dir,
            command=job.command,
            progress=(lambda message: None) if job.quiet else _progress(name),
            show_progress_bars=False,
            options=job.options_for(spec),
            executor=executor_from(job.executor),
        )
    except FmauditError as exc:
        return Verdict(job.spec, "", 0, 0, exc.exit_code, None, f"{type(exc).__name__}: {exc}")
    except Exception:  # a bug in one spec's run must not lose the others' verdicts
        return Verdict(job.spec, "", 0, 0, ExitCode.INTERNAL_ERROR, None, traceback.format_exc().splitlines()[-1])
    failed = sum(not r.passed for r in result.gate_results)
    return Verdict(job.spec, model, len(result.gate_results) - failed, failed, result.exit_code, result.report_dir)


def _progress(name: str) -> Callable[[str], None]:
    def say(message: str) -> None:
        print(f"fmaudit: [{name}] {message}", file=sys.stderr, flush=True)

    return say


def worst_exit_code(verdicts: list[Verdict]) -> int:
    """The batch's exit code: the worst of its specs' (0 pass < 1 gate failed < 2 bad input < 3 internal)."""
    return max((v.exit_code for v in verdicts), default=ExitCode.OK)


def verdict_table(verdicts: list[Verdict]) -> str:
    """The batch's verdicts as a plain-text table for the console, errors listed under it."""
    header = ("spec", "model", "gates passed", "gates failed", "exit", "report")
    rows = [
        (str(v.spec), v.model or "-", str(v.passed), str(v.failed), str(int(v.exit_code)), str(v.report_dir or "-"))
        for v in verdicts
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines += [f"{v.spec}: {v.error}" for v in verdicts if v.error]
    worst = worst_exit_code(verdicts)
    lines.append(f"{len(verdicts)} specs, {sum(v.exit_code == 0 for v in verdicts)} passed; exit code {worst}")
    return "\n".join(lines)
