"""Benchmark: DP-LoRA on MiniLM against DP fine-tuning of the top two layers, and against non-private LoRA.

The LoRA spec's data, template and settings (audits/credit-lora.yaml), the same training rows, the same
epsilon and the same physical batch for every variant; each variant trains in a fresh process through
fmaudit's own loop and reports its mean epoch time (the loop's own per-epoch clock: tokenisation and
Opacus's noise calibration are outside it), its peak resident memory above the loaded model, and the
ROC AUC it reaches on the spec's test split.

    python bench/dp_lora.py [--rows 700] [--epochs N] [--ghost]

Variants: dp-lora (adapter + head, DP), lora (the same without DP, batches of the DP run's physical size),
dp-top2 (top two encoder layers, the pooler and the head, DP; body rate 5e-4, the adapter's rate is too
high for pretrained weights).
Target (issue 12): DP-LoRA epoch time <= 1.5x non-private LoRA (Opacus reports ~1.4x for BERT's last layers).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "audits" / "credit-lora.yaml"
VARIANTS = ("dp-lora", "lora", "dp-top2")


def settings(variant: str, spec_training: Any, *, epochs: int | None, ghost: bool) -> Any:
    """The spec's training settings changed only where the variant differs."""
    privacy = spec_training.privacy.model_copy(update={"grad_sample_mode": "ghost" if ghost else "hooks"})
    changes: dict[str, Any] = {"privacy": None if variant == "lora" else privacy}
    if variant == "lora":  # the same physical batch as DP's BatchMemoryManager passes
        changes["batch_size"] = privacy.max_physical_batch_size
    if epochs is not None:
        changes["epochs"] = epochs
    if variant == "dp-top2":
        changes |= {"adapter": None, "train_layers": 2, "learning_rate": 5e-4}
    return spec_training.model_copy(update=changes)


def measure(variant: str, rows: int, epochs: int | None, ghost: bool) -> dict[str, Any]:
    """Train one variant in this process; its epoch time, memory above the loaded model, and test ROC AUC."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from fmaudit.engine.pipeline import default_cache_dir, plan
    from fmaudit.models.adapters import apply_adapter
    from fmaudit.models.text import TextClassifier, load_pretrained, resolve_base_model
    from fmaudit.training.feeds import TextFeed
    from fmaudit.training.freeze import freeze
    from fmaudit.training.loop import train

    the_plan = plan(SPEC)
    spec, data = the_plan.loaded.spec, the_plan.data
    training = settings(variant, spec.training, epochs=epochs, ghost=ghost)
    base = resolve_base_model(
        spec.model.base_model, base_dir=the_plan.loaded.base_dir, cache_dir=default_cache_dir() / "models"
    )
    model, tokenizer = load_pretrained(base)
    trained_modules = freeze(model, training) if training.adapter is None else apply_adapter(model, training.adapter)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    before = rss_kib()
    trained = train(
        model,
        TextFeed(tokenizer, data, training),
        data=data,
        rows=np.sort(data.train_idx[:rows]),
        training=training,
        show_progress=False,
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    classifier = TextClassifier(trained.model, tokenizer, max_length=training.max_length)
    scores = classifier.predict_rows(data, data.test_idx)
    return {
        "epoch_seconds": float(np.mean(trained.epoch_seconds)),
        "extra_mib": max(peak - before, 0) / 1024,
        "roc_auc": float(roc_auc_score(data.labels[data.test_idx], scores)),
        "epsilon": trained.privacy.epsilon if trained.privacy else float("nan"),
        "trainable": float(trainable),
        "modules": "; ".join(trained_modules),
    }


def rss_kib() -> int:
    """Current resident memory of this process (Linux /proc), KiB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() // 1024


def child(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", variant, "--rows", str(args.rows)]
    command += ["--epochs", str(args.epochs)] if args.epochs else []
    command += ["--ghost"] if args.ghost else []
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{variant} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=700, help="training rows used (the spec has 700)")
    parser.add_argument("--epochs", type=int, help="override the spec's epochs")
    parser.add_argument("--ghost", action="store_true", help="DP with ghost clipping instead of per-sample gradients")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.rows, args.epochs, args.ghost)))
        return

    results = {variant: child(variant, args) for variant in VARIANTS}
    print(f"MiniLM, {args.rows} training rows, DP {'ghost clipping' if args.ghost else 'hooks'}, same epsilon")
    for variant, r in results.items():
        print(
            f"{variant:8s} epoch {r['epoch_seconds']:7.1f} s  memory {r['extra_mib']:7.1f} MiB  "
            f"ROC AUC {r['roc_auc']:.3f}  epsilon {r['epsilon']:.2f}  trained {int(r['trainable']):,} ({r['modules']})"
        )
    dp_lora, lora, top2 = (results[v] for v in VARIANTS)
    print(
        f"DP-LoRA / DP top-2 layers: epoch time {dp_lora['epoch_seconds'] / top2['epoch_seconds']:.2f}x, "
        f"peak memory {dp_lora['extra_mib'] / max(top2['extra_mib'], 1e-9):.2f}x, "
        f"ROC AUC {dp_lora['roc_auc']:.3f} vs {top2['roc_auc']:.3f}"
    )
    ratio = dp_lora["epoch_seconds"] / lora["epoch_seconds"]
    print(
        f"DP-LoRA / non-private LoRA epoch time: {ratio:.2f}x (target <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
