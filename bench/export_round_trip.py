"""Check: a run's exported model, audited again as a model trained elsewhere, reproduces the run's figures.

    python bench/export_round_trip.py reports/credit/<run id> [--cache-dir DIR] [--out DIR]

It exports the run's model (``fmaudit export``), writes a spec that audits the export (``model.source``, the
run's own data section and audits, its training rows as ``trained_on``), runs it, and prints per section how
many figures agree (to 1e-6, values and interval bounds), then every figure that does not. The privacy section
is expected to differ: fmaudit states no DP guarantee for a model it did not train, and the reference-calibrated
membership attack needs a reference model trained like the audited one. It writes ``round_trip.json`` in
``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fmaudit.cli import main as cli
from fmaudit.engine.pipeline import plan, run

TOLERANCE = 1e-6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/export_round_trip"))
    args = parser.parse_args()
    findings = json.loads((args.run_dir / "findings.json").read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    export = args.out / "export"
    cache = ["--cache-dir", str(args.cache_dir)] if args.cache_dir else []
    if export.exists() or cli(["export", str(args.run_dir), str(export), *cache]) != 0:
        sys.exit(f"cannot export into {export} (remove it first)")
    spec_path = external_spec(findings, export, args.out)
    again = run(spec_path, out=args.out / "reports", cache_dir=args.cache_dir, show_progress_bars=False)
    after = json.loads((again.report_dir / "findings.json").read_text())
    report = compare(metrics(findings), metrics(after))
    (args.out / "round_trip.json").write_text(json.dumps(report, indent=2))
    for section, counts in report["sections"].items():
        print(f"{section}: {counts['same']} of {counts['compared']} figures agree")
    for difference in report["different"]:
        print(f"  differs: {difference}")


def external_spec(findings: dict[str, Any], export: Path, out: Path) -> Path:
    """The run's spec with its training replaced by the export, trained on the run's own training rows."""
    spec = dict(findings["resolved_spec"])
    original = plan(findings["provenance"]["spec_path"]).data
    assert original.ids is not None
    pd.DataFrame({"row": original.ids[original.train_idx]}).to_csv(out / "train_ids.csv", index=False)
    spec.pop("training")
    spec["name"] = f"{spec['name']}-export"
    trained_on = {"file": str((out / "train_ids.csv").resolve())}
    spec["model"] = {"source": {"format": "huggingface", "path": str(export.resolve()), "trained_on": trained_on}}
    source = spec["data"]["source"]
    if not source.startswith("builtin:") and not Path(source).is_absolute():
        spec["data"]["source"] = str(Path(findings["provenance"]["spec_path"]).parent / source)
    spec["gates"] = [gate for gate in spec["gates"] if not gate.startswith("privacy.")]
    path = out / "external.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def metrics(findings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["path"]: m for section in findings["sections"] for m in section["metrics"]}


def compare(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, Any]:
    sections: dict[str, dict[str, int]] = {}
    different = []
    for path, metric in before.items():
        counts = sections.setdefault(path.split(".")[0], {"compared": 0, "same": 0})
        counts["compared"] += 1
        other = after.get(path)
        same = other is not None and all(_close(metric.get(k), other.get(k)) for k in ("value", "ci_low", "ci_high"))
        counts["same"] += same
        if not same:
            different.append(f"{path}: {metric.get('value')} -> {other.get('value') if other else 'absent'}")
    return {"sections": sections, "different": different}


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= TOLERANCE


if __name__ == "__main__":
    main()
