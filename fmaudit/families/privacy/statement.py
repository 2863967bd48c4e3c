"""The differential-privacy statement: what a DP claim needs (Ponomareva et al. 2023, "How to DP-fy ML";
Opacus docs), straight from the training record, whose epsilon came from Opacus's accountant: where the noise
came from, which statistics of the training rows were released inside epsilon, and everything outside it."""

from __future__ import annotations

from dataclasses import dataclass

from fmaudit.core.findings import Metric, Table
from fmaudit.families.privacy.params import FIGURES
from fmaudit.plugins.context import AuditContext
from fmaudit.training.records import PrivacyRecord

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
    "this report itself: the membership-inference figures read the training rows directly, and every model it "
    "lists under 'Released by this report' is trained on them — ε covers the DP model's weights, not an audit "
    "report that also describes the data",
    "the number of training rows N, released exactly: treated as public",
    "findings.json's data_sha256, rows_sha256 and cache keys, exact functions of the training rows (anyone "
    "holding a candidate neighbouring data set can confirm it against them): published as they are, keyed with "
    "the run's secret salt (HMAC) in a redacted report (output.redact); the stage table's counts of distinct texts",
)
TUNED_ON_ROWS = (
    "the choice of hyper-parameters and settings, made on these training rows: tuning on private data spends "
    "privacy that is not accounted here (Papernot & Steinke 2022)"
)
TUNED_ON_PUBLIC = "the training settings: chosen on public data or defaults, as the spec declares (not verified)"


@dataclass(frozen=True)
class Released:
    """A model trained on these training rows whose figures the report publishes, and its DP record."""

    label: str
    privacy: PrivacyRecord | None
    """None: trained without DP."""


def released_models(context: AuditContext) -> list[Released]:
    """Every model trained on the training rows whose figures this report publishes: the audited model and its
    seed replicas (the same settings, so the same accounting), each one's membership reference model (trained
    on the training rows the attack does not audit), the twin and its reference, the sweep models."""
    record, membership = context.training.privacy, context.membership
    reference = membership.reference_training if membership is not None else None
    replicas = context.spec.training.replica_seeds
    models = [Released("audited model", record), *(Released(f"seed replica {s}", record) for s in replicas)]
    if reference is not None:
        models.append(Released("membership reference model", reference.privacy))
        models += [Released(f"reference model of seed replica {s}", reference.privacy) for s in replicas]
    for compared in context.compared:
        models.append(Released(compared.label, compared.training.privacy))
        if compared.role == "twin" and reference is not None:
            models.append(Released(f"reference model of the {compared.label}", None))
    return models


def released_epsilon(context: AuditContext, record: PrivacyRecord) -> tuple[float, list[Released], str]:
    """The composed epsilon of every released DP model, the models without DP, and the sentence saying so."""
    from fmaudit.training.privacy import composed_epsilon

    models = released_models(context)
    private = [m for m in models if m.privacy is not None]
    without = [m for m in models if m.privacy is None]
    epsilon = composed_epsilon([m.privacy for m in private if m.privacy is not None], delta=record.delta)
    text = (
        f"{len(private)} DP model{'s' * (len(private) != 1)} ({', '.join(m.label for m in private)}) compose to "
        f"ε = {epsilon:.2f} at δ = {record.delta:g}"
    )
    if without:
        text += (
            f"; {len(without)} trained without DP ({', '.join(m.label for m in without)}): the report as a whole "
            "has no DP bound — share it as the training data itself, or set compare: false and publish only "
            "the DP models"
        )
    return epsilon, without, text


NOT_VERIFIABLE = "trained elsewhere: fmaudit cannot verify how it was trained, so no DP claim is stated"


def statement(context: AuditContext) -> tuple[list[Metric], list[Table], str]:
    """The DP statement (or the absence of one) as metrics, a table and a summary sentence."""
    record, training = context.training.privacy, context.training
    if training.trained_elsewhere:
        metrics = [Metric("privacy.dp", None, "Trained with DP-SGD (1 = yes)", note=NOT_VERIFIABLE)]
        metrics += [
            Metric(f"privacy.{f}", None, label, better, note=NOT_VERIFIABLE) for f, (label, better) in FIGURES.items()
        ]
        return (
            metrics,
            [],
            f"The model was trained elsewhere ({training.source_format}); fmaudit did not train it and cannot "
            "verify any privacy claim made for it: nothing in this report bounds what it may reveal about its "
            "training rows.",
        )
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
    chosen_on = context.spec.training.privacy.settings_chosen_on if context.spec.training.privacy else "training_rows"
    tuned = TUNED_ON_ROWS if chosen_on == "training_rows" else None
    outside = [*record.outside_guarantee, *([tuned] if tuned else [])]
    released, without, released_text = released_epsilon(context, record)
    values = {
        "epsilon": record.epsilon,
        "delta": record.delta,
        "noise_multiplier": record.noise_multiplier,
        "sample_rate": record.sample_rate,
        "steps": float(record.steps),
        "max_grad_norm": record.max_grad_norm,
        "replayable_noise": float(record.noise_source == "seeded"),
        "unaccounted_statistics": float(len(outside)),
        "released_epsilon": released,
        "released_without_dp": float(len(without)),
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
        ("Dataset size N", f"{record.dataset_size} (released exactly: treated as public)"),
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
        ("Released by this report", released_text),
        ("Outside the guarantee", "; ".join([*outside, *([] if tuned else [TUNED_ON_PUBLIC]), *ALWAYS_OUTSIDE])),
    )
    summary = (
        f"Trained with DP-SGD to (ε = {record.epsilon:.2f}, δ = {record.delta:g}) at the example level, "
        f"accounted by Opacus's {record.accountant} accountant over {record.steps} steps"
        + (f" and {len(record.releases)} noisy statistics released before training" if record.releases else "")
        + "."
    )
    if outside:
        summary += " Not covered by ε: " + "; ".join(outside) + "."
    summary += f" Released by this report: {released_text}."
    if record.noise_source == "seeded":
        summary = (
            "NOT A PRIVACY GUARANTEE, for experiments: the DP noise and batch sampling were seeded from "
            "training.seed (reproducible_noise: true), so anyone holding this report can replay them. " + summary
        )
    return metrics, [Table(title="Differential-privacy statement", columns=("Item", "Value"), rows=statement)], summary
