"""Report stage: findings.json, predictions.csv and every output format from the findings; computes no metric.

``write_report`` is imported lazily, so reading the format registry (``fmaudit --help``) loads no renderer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["write_report"]


def __getattr__(name: str) -> Any:
    if name == "write_report":
        from fmaudit.report.write import write_report

        return write_report
    raise AttributeError(f"module 'fmaudit.report' has no attribute {name!r}")
