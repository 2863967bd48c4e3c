"""Benchmark: DP-SGD epoch time and peak training memory against the non-private epoch, on the demo model.

The demo spec's model, data and training settings (audits/credit.yaml), the same rows and the same
physical batch, one run each. Each measurement runs in a fresh process: it loads the model, notes its
resident memory, trains through fmaudit's own training loop, and reports the wall time and the peak
resident memory above that starting point. The epoch time is the difference between a two-epoch and a
one-epoch run, so tokenisation and Opacus's noise calibration (one-off costs) cancel out.

    python bench/dp_overhead.py [--rows 320] [--train-layers N] [--ghost]

Targets (issue 5): DP epoch time <= 2x and DP peak training memory <= 3x the non-private run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "audits" / "credit.yaml"


def rss_kib() -> int:
    """Current resident memory of this process (Linux /proc), KiB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() // 1024


def measure(private: bool, epochs: int, rows: int, train_layers: int | None, ghost: bool) -> dict[str, float]:
    """Train once in this process; wall time of the training loop and peak memory above the loaded model."""
    from fmaudit.engine.pipeline import default_cache_dir, plan
    from fmaudit.models.text import load_pretrained, resolve_base_model
    from fmaudit.training.feeds import TextFeed
    from fmaudit.training.freeze import freeze
    from fmaudit.training.loop import train

    the_plan = plan(SPEC)
    spec = the_plan.loaded.spec
    privacy = spec.training.privacy
    assert privacy is not None, f"{SPEC} has no privacy block"
    settings: dict[str, object] = {"epochs": epochs}
    if train_layers is not None:
        settings["train_layers"] = train_layers
    settings["privacy"] = (
        privacy.model_copy(update={"grad_sample_mode": "ghost" if ghost else "hooks"}) if private else None
    )
    training = spec.training.model_copy(update=settings)
    base = resolve_base_model(
        spec.model.base_model, base_dir=the_plan.loaded.base_dir, cache_dir=default_cache_dir() / "models"
    )
    model, tokenizer = load_pretrained(base)
    freeze(model, training)
    before = rss_kib()
    started = time.perf_counter()
    train(
        model,
        TextFeed(tokenizer, the_plan.data, training),  # through the encoder, not the cached pooled-output path
        data=the_plan.data,
        rows=the_plan.data.train_idx[:rows],
        training=training,
        show_progress=False,
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"seconds": seconds, "extra_mib": max(peak - before, 0) / 1024}


def child(private: bool, epochs: int, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", json.dumps([private, epochs]), "--rows", str(args.rows)]
    if args.train_layers is not None:
        command += ["--train-layers", str(args.train_layers)]
    if args.ghost:
        command.append("--ghost")
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=320, help="training rows used (the demo has 700)")
    parser.add_argument("--train-layers", type=int, help="override the demo's train_layers (0: head only)")
    parser.add_argument("--ghost", action="store_true", help="DP with ghost clipping instead of per-sample gradients")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        private, epochs = json.loads(args.child)
        print(json.dumps(measure(private, epochs, args.rows, args.train_layers, args.ghost)))
        return

    results = {(p, e): child(p, e, args) for p in (False, True) for e in (1, 2)}
    epoch = {p: results[(p, 2)]["seconds"] - results[(p, 1)]["seconds"] for p in (False, True)}
    memory = {p: max(results[(p, 1)]["extra_mib"], results[(p, 2)]["extra_mib"]) for p in (False, True)}
    layers = "demo setting" if args.train_layers is None else f"train_layers={args.train_layers}"
    print(f"demo model, {args.rows} training rows, {layers}, DP {'ghost clipping' if args.ghost else 'hooks'}")
    print(
        f"epoch time       no DP {epoch[False]:7.2f} s   DP {epoch[True]:7.2f} s   "
        f"ratio {epoch[True] / epoch[False]:.2f}x"
    )
    print(
        f"training memory  no DP {memory[False]:7.1f} MiB DP {memory[True]:7.1f} MiB "
        f"ratio {memory[True] / max(memory[False], 1e-9):.2f}x  (peak resident memory above the loaded model)"
    )


if __name__ == "__main__":
    main()
