"""Benchmark: the demo's verdict over fresh DP noise draws, as new users on fresh machines would see it.

DP-SGD's noise comes from OS entropy (never from the published seed), so every fresh machine trains another DP
model and the demo's gates judge another draw. A gate set inside the spread of that noise fails on some machines
and passes on others. This bench trains the spec's DP models ``--trainings`` times afresh (each trial gets its
own model cache; the encoder vectors and the models without DP, which are the same on every machine, are shared
from a first run), runs the whole audit on each, and prints per gate how many trials passed and the spread of the
value it read.

    python bench/demo_verdict.py [--spec audits/credit.yaml] [--trainings 10] [--gated-only] [--reuse]

It writes ``summary.json`` (per gate: trials passed, observed values) and keeps each trial's findings.json.
``--gated-only`` leaves out what no gate reads (the demo gates nothing in explanations, its slowest stage, and
only Pruthi2019 among the attack recipes), in a copy of the spec beside the trials; every gated figure is
computed exactly as in the demo.
``--reuse`` re-audits the DP models an earlier invocation trained (same ``--out``): the figures change only where
the audit code did, which makes a fix to a figure's definition cheap to re-measure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fmaudit.engine.pipeline import default_cache_dir
from fmaudit.metrics.gates import parse_gate
from fmaudit.training.cache import RECORD_FILE


def run_audit(spec: Path, out: Path, cache: Path) -> dict[str, Any]:
    """``fmaudit run SPEC`` in a fresh process with ``cache`` as its model cache; its findings.json."""
    env = {**os.environ, "FMAUDIT_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "fmaudit", "run", str(spec), "--out", str(out), "--progress", "none", "--quiet"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"fmaudit run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return run_findings(out)


def run_findings(out: Path) -> dict[str, Any]:
    """The audited model's findings.json under a run's output directory (the twin's report sits beside it)."""
    documents = [json.loads(p.read_text()) for p in out.rglob("findings.json")]
    [audited] = [d for d in documents if d["role"] == "audited"]
    return dict(audited)


def is_private(model_dir: Path) -> bool:
    record = json.loads((model_dir / RECORD_FILE).read_text())
    return record.get("privacy") is not None


def trial_cache(shared: Path, trial: Path) -> Path:
    """A model cache for one trial: the shared encoder vectors and models without DP linked in, the DP models
    left out, so the trial trains them afresh."""
    cache = trial / "cache"
    (cache / "models").mkdir(parents=True, exist_ok=True)
    for entry in (shared / "models").iterdir():
        target = cache / "models" / entry.name
        is_model = (entry / RECORD_FILE).is_file()
        if not target.exists() and not (is_model and is_private(entry)):
            target.symlink_to(entry.resolve())
    return cache


def gated_only(spec: Path, out: Path) -> Path:
    """A copy of ``spec`` without the plugins and attack recipes no gate reads, its data source resolved
    against the original's folder."""
    raw = yaml.safe_load(spec.read_text())
    gated = [g.split()[0].split(".") for g in raw.get("gates", [])]
    raw["audits"] = {name: params for name, params in raw["audits"].items() if any(g[0] == name for g in gated)}
    robustness = raw["audits"].get("robustness")
    if robustness:
        robustness["recipes"] = [r for r in robustness["recipes"] if ["robustness", r] in [g[:2] for g in gated]]
    source = raw["data"]["source"]
    if not source.startswith("builtin:"):
        raw["data"]["source"] = str((spec.parent / source).resolve())
    copy = out / spec.name
    copy.write_text(yaml.safe_dump(raw, sort_keys=False))
    return copy


def summarise(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per gate over the trials: how many passed, and the least, median and greatest value it read."""
    by_gate: dict[str, list[dict[str, Any]]] = {}
    for document in trials:
        for gate in document["gates"]:
            by_gate.setdefault(gate["gate"], []).append(gate)
    rows = []
    for text, results in by_gate.items():
        observed = [r["observed"] for r in results if r["observed"] is not None]
        metric_path = parse_gate(text).metric_path
        figures = [leaf(d["metrics"], metric_path) for d in trials]
        values = [f["value"] for f in figures if f and f["value"] is not None]
        widths = [f["ci_high"] - f["ci_low"] for f in figures if f and f.get("ci_low") is not None]
        rows.append(
            {
                "gate": text,
                "passed": sum(bool(r["passed"]) for r in results),
                "trials": len(results),
                "min": min(observed, default=None),
                "median": float(np.median(observed)) if observed else None,
                "max": max(observed, default=None),
                "observed": [r["observed"] for r in results],
                # The figure's spread over fresh noise draws beside its interval's typical width: where the
                # spread is wider, the interval does not describe what another training run would give.
                "spread": max(values) - min(values) if values else None,
                "median_interval_width": float(np.median(widths)) if widths else None,
            }
        )
    return rows


def leaf(metrics: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The metric at a dotted path of findings.json's metric tree, or None."""
    node: Any = metrics
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) and "value" in node else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=Path("audits/credit.yaml"))
    parser.add_argument("--trainings", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("bench/results/demo_verdict"))
    parser.add_argument("--reuse", action="store_true", help="re-audit the DP models an earlier invocation trained")
    parser.add_argument("--gated-only", action="store_true", help="leave out the plugins and recipes no gate reads")
    parser.add_argument("--summary-only", action="store_true", help="summarise the trials already in --out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.gated_only:
        args.spec = gated_only(args.spec, args.out)

    shared = default_cache_dir()
    print(f"shared cache (encoder vectors, models without DP): {shared}", flush=True)
    if not (shared / "models").is_dir():
        print("first run: filling the shared cache", flush=True)
        run_audit(args.spec, args.out / "warm-up", shared)
    trials = []
    for i in range(0 if args.summary_only else args.trainings):
        trial = args.out / f"trial-{i:02d}"
        if not args.reuse:
            shutil.rmtree(trial, ignore_errors=True)
        cache = trial_cache(shared, trial)
        shutil.rmtree(trial / "reports", ignore_errors=True)
        started = time.perf_counter()
        document = run_audit(args.spec, trial / "reports", cache)
        trials.append(document)
        failed = [g["gate"] for g in document["gates"] if not g["passed"]]
        print(
            f"trial {i + 1}/{args.trainings}: {time.perf_counter() - started:.0f} s, "
            f"epsilon {document['metrics']['privacy']['epsilon']['value']:.2f}, "
            + (f"FAILED {failed}" if failed else "every gate passed"),
            flush=True,
        )
    if args.summary_only:
        for trial in sorted(args.out.glob("trial-*"))[: args.trainings]:
            trials.append(run_findings(trial / "reports"))
    rows = summarise(trials)
    every = sum(all(g["passed"] for g in d["gates"]) for d in trials)
    (args.out / "summary.json").write_text(
        json.dumps({"trials": len(trials), "all_passed": every, "gates": rows}, indent=2)
    )
    print(f"\nall gates passed in {every} of {len(trials)} fresh DP trainings")
    width = max(len(r["gate"]) for r in rows)
    print(f"{'gate':<{width}}  passed   min      median   max      spread   interval")
    for r in rows:
        values = "  ".join(
            "    -   " if v is None else f"{v:8.4f}"
            for v in (r["min"], r["median"], r["max"], r["spread"], r["median_interval_width"])
        )
        print(f"{r['gate']:<{width}}  {r['passed']:>2}/{r['trials']:<3}  {values}")


if __name__ == "__main__":
    main()
