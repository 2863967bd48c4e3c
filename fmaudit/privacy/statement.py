"""The differential-privacy statement: what a DP claim needs (Ponomareva et al. 2023, "How to DP-fy ML";
Opacus docs), straight from the training record, whose epsilon came from Opacus's accountant."""

from __future__ import annotations

from fmaudit.context import AuditContext
from fmaudit.findings import Metric, Table
from fmaudit.privacy.params import FIGURES

NO_GUARANTEE = "trained without DP-SGD: no formal privacy guarantee"



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
        (
            "Secure RNG",
            "on" if record.secure_mode else "off (fine for experiments; retrain with secure_mode for production)",
        ),
        (
            "Outside the guarantee",
            "the base model's pretraining (its data is not covered by this guarantee), the test split, and the "
            "choice of hyper-parameters (tuning on the private data spends privacy not accounted here)",
        ),
    )
    summary = (
        f"Trained with DP-SGD to (ε = {record.epsilon:.2f}, δ = {record.delta:g}) at the example level, "
        f"accounted by Opacus's {record.accountant} accountant over {record.steps} steps."
    )
    return metrics, [Table(title="Differential-privacy statement", columns=("Item", "Value"), rows=statement)], summary
