"""Report stage: findings.json, predictions.csv and report.html from the findings; computes no metric."""

from fmaudit.report.write import write_report

__all__ = ["write_report"]
