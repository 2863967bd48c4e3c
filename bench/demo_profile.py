"""Benchmark: the warm demo's wall time against its encoder floor.

Runs ``fmaudit run SPEC`` (models and encoder vectors cached by a first, untimed run unless ``--no-warm-up``),
reads the run's stages from findings.json, and measures this machine's per-text encoder cost now (a batch
of the data's texts through the frozen encoder, no cache). The floor is the run's distinct texts (every
text any model or plugin needed from the encoder, counted once) times that cost: the time an ideal run would
spend if it did nothing but encode each text once. Prints wall time, floor, their ratio, and the slowest
stages. ``--before CHECKOUT`` also times another checkout's demo (e.g. a worktree of the commit before the
encoder cache) once, on the same machine, in the same session, and prints the speed-up; that checkout must find
its models in the model cache already (run its demo once before), as a warm run does.

    python bench/demo_profile.py [--spec audits/credit.yaml] [--before /path/to/old/checkout] [--no-warm-up]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fmaudit.engine.pipeline import default_cache_dir, plan


def timed_run(spec: Path, out: Path, *, checkout: Path | None = None) -> tuple[float, Path]:
    """Wall time of ``fmaudit run`` in a fresh process (from ``checkout`` when given) and its run directory."""
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    command = [sys.executable, "-m", "fmaudit", "run", str(spec), "--out", str(out), "--quiet"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=checkout or Path.cwd(), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"fmaudit run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    (run_dir,) = [p for p in out.glob("*/*") if (p / "findings.json").is_file()]
    return seconds, run_dir


def encoder_seconds_per_text(spec: Path, sample: int) -> float:
    """This machine's cost of one text through the demo's frozen encoder, now (batches of 32, no cache)."""
    from fmaudit.models.pooling import resolve_pooling
    from fmaudit.models.text import TextClassifier, load_pretrained, resolve_base_model

    the_plan = plan(spec)
    model_spec, training = the_plan.loaded.spec.model, the_plan.loaded.spec.training
    base = resolve_base_model(model_spec.base_model, base_dir=the_plan.loaded.base_dir, cache_dir=default_cache_dir())
    model, tokenizer = load_pretrained(base, pooling=resolve_pooling(model_spec.pooling, base))
    classifier = TextClassifier(model, tokenizer, max_length=training.max_length)
    texts = list(dict.fromkeys(the_plan.data.texts))[:sample]
    classifier.pooled(texts[:32])  # warm the kernels
    started = time.perf_counter()
    for start in range(0, len(texts), 32):
        classifier.pooled(texts[start : start + 32])
    return (time.perf_counter() - started) / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="audits/credit.yaml", type=Path)
    parser.add_argument("--before", type=Path, default=None, help="another checkout to time the same spec with")
    parser.add_argument("--no-warm-up", action="store_true", help="time the first run (caches as they are)")
    parser.add_argument("--sample", type=int, default=512, help="texts timed for the per-text encoder cost")
    args = parser.parse_args()
    spec = args.spec.resolve()
    work = Path(tempfile.mkdtemp(prefix="fmaudit-profile-"))

    if not args.no_warm_up:
        timed_run(spec, work / "warm-up")
    seconds, run_dir = timed_run(spec, work / "timed")
    stages = json.loads((run_dir / "findings.json").read_text())["provenance"]["stages"]
    texts = sum(s["texts"] for s in stages)
    encoded = sum(s["encoded"] for s in stages)
    per_text = encoder_seconds_per_text(spec, args.sample)
    floor = texts * per_text
    print(f"spec {args.spec}: warm run {seconds:.1f} s (stages {sum(s['seconds'] for s in stages):.1f} s + writing)")
    print(f"distinct texts through the encoder: {texts} ({encoded} encoded by this run, the rest from the cache)")
    print(f"encoder cost now: {per_text * 1000:.2f} ms per text -> encoder floor {floor:.1f} s")
    print(f"wall / floor: {seconds / floor:.2f}x (target <= 1.5x)")
    print("slowest stages:")
    for s in sorted(stages, key=lambda s: -s["seconds"])[:8]:
        print(f"  {s['seconds']:7.1f} s  {s['stage']}  (texts {s['texts']}, encoded {s['encoded']})")
    if args.before is not None:
        before = args.before.resolve()
        old, _ = timed_run(before / args.spec, work / "before", checkout=before)
        print(f"before ({before}): warm run {old:.1f} s -> speed-up {old / seconds:.2f}x (target >= 2x)")
    print(f"runs in {work}; encoder-floor ratio uses {np.round(per_text, 5)} s per text")


if __name__ == "__main__":
    main()
