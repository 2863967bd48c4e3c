"""The differential-privacy statement: what a DP claim needs (Ponomareva et al. 2023, "How to DP-fy ML";
Opacus docs), straight from the training record, whose epsilon came from Opacus's accountant: where the noise
came from, which statistics of the training rows were released inside epsilon, and everything outside it."""

from __future__ import annotations

from fmaudit.core.findings import Metric, Table
from fmaudit.families.privacy.params import FIGURES
from fmaudit.plugins.context import AuditContext

NO_GUARANTEE = "trained without DP-SGD: no formal privacy guarantee"
NOISE_SOURCES = {
    "os-entropy": "torch generators seeded from 64 bits of OS entropy (os.urandom), never recorded: the noise and the "
    "batch sampling cannot be replayed from this report (not a cryptographic generator: secure_mode for that)",
    "secure": "cryptographically secure generator (Opacus secure_mode, torchcsprng)",
    "seeded": "seeded from training.seed (reproducible_noise: true): anyone holding this report can replay the noise "
    "— NOT A PRIVACY GUARANTEE, for experiments only",
}
ALWAYS_OUTSIDE = (
    "the base model's pretraining (its data is not covered by this guarantee)",
    "the test split (never trained on; the audits read it)",
    "this report itself: the no-DP twin, the reference models and the membership-inference figures read the "
    "training rows directly — ε covers the DP model's weights, not an audit report that also describes the data",
    "the choice of hyper-parameters and settings, made by hand on this data and split: tuning on private data "
    "spends privacy that is not accounted here (Papernot & Steinke 2022)",
)


def statement(context: AuditContext) -> tuple[list[Metric], list[Table], str]:
    """The DP statement (or the absence of one) as metrics, a table and a summary sentence."""
    record, training = context.training.privacy, context.training
    if record is None:
        metrics = [Metric("privacy.dp", 0.0, "Trained with DP-SGD (1 = yes)")]
        metrics += [
            Metric(f"privacy.{f}", None, label, better, note=NO_GUARANTEE) for f, (label, better) in FIGURES.items()
        ]
        return (
            metrics,
            [],
            "The model was trained without differential privacy and carries no formal privacy guarantee: nothing "
            "bounds what it may reveal about individual training rows.",
        )
    values = {
        "epsilon": record.epsilon,
        "delta": record.delta,
        "noise_multiplier": record.noise_multiplier,
        "sample_rate": record.sample_rate,
        "steps": float(record.steps),
        "max_grad_norm": record.max_grad_norm,
        "replayable_noise": float(record.noise_source == "seeded"),
        "unaccounted_statistics": float(len(record.outside_guarantee)),
    }
    metrics = [Metric("privacy.dp", 1.0, "Trained with DP-SGD (1 = yes)")]
    metrics += [Metric(f"privacy.{f}", values[f], label, better) for f, (label, better) in FIGURES.items()]
    frozen = training.total_parameters - training.trainable_parameters
    inverse_n = 1 / record.dataset_size
    statement = (
        ("Unit of privacy", "one training example (add/remove adjacency): one row of the data set"),
        ("Epsilon reached / target", f"{record.epsilon:.3f} / {record.target_epsilon:g}"),
        (
            "Delta",
            f"{record.delta:g} (1/N = {inverse_n:.2e})"
            + ("" if record.delta < inverse_n else " — AT OR ABOVE 1/N, accepted by allow_large_delta: weak guarantee"),
        ),
        ("Accountant", f"Opacus '{record.accountant}'"),
        ("Noise multiplier", f"{record.noise_multiplier:.4f}"),
        ("Clipping norm (per example)", f"{record.max_grad_norm:g}"),
        ("Dataset size N", record.dataset_size),
        ("Sampling rate / expected batch size", f"{record.sample_rate:.5f} / {record.expected_batch_size:g}"),
        ("Poisson sampling", "on" if record.poisson_sampling else "off"),
        ("Physical batch size", f"at most {record.max_physical_batch_size} rows (Opacus BatchMemoryManager)"),
        (
            "Per-example clipping",
            "ghost clipping" if record.grad_sample_mode == "ghost" else "per-sample gradients (hooks)",
        ),
        ("Epochs / optimizer steps", f"{record.epochs} / {record.steps}"),
        (
            "Parameters covered",
            f"{', '.join(training.trained_modules)}: {training.trainable_parameters:,} trained parameters",
        ),
        (
            "Parameters not covered",
            f"{frozen:,} frozen parameters, kept as pretrained: public, not trained on this data",
        ),
        ("DP noise and batch sampling", NOISE_SOURCES[record.noise_source]),
        (
            "Released before training, inside ε",
            "; ".join(
                f"{r.name}: Gaussian mechanism, sensitivity {r.sensitivity:g}, noise multiplier {r.noise_multiplier:g}"
                for r in record.releases
            )
            or "nothing: no statistic of the training rows is used outside DP-SGD",
        ),
        ("Outside the guarantee", "; ".join([*record.outside_guarantee, *ALWAYS_OUTSIDE])),
    )
    summary = (
        f"Trained with DP-SGD to (ε = {record.epsilon:.2f}, δ = {record.delta:g}) at the example level, "
        f"accounted by Opacus's {record.accountant} accountant over {record.steps} steps"
        + (f" and {len(record.releases)} noisy statistics released before training" if record.releases else "")
        + "."
    )
    if record.outside_guarantee:
        summary += " Not covered by ε: " + "; ".join(record.outside_guarantee) + "."
    if record.noise_source == "seeded":
        summary = (
            "NOT A PRIVACY GUARANTEE, for experiments: the DP noise and batch sampling were seeded from "
            "training.seed (reproducible_noise: true), so anyone holding this report can replay them. " + summary
        )
    return metrics, [Table(title="Differential-privacy statement", columns=("Item", "Value"), rows=statement)], summary
