"""Privacy: the differential-privacy statement of the training run.

Reports what a DP claim needs (Ponomareva et al. 2023; Opacus docs) straight
from the training record, whose epsilon came from Opacus's accountant. A model
trained without DP-SGD is reported as carrying no formal guarantee.
"""

from __future__ import annotations

from fmaudit.findings import Better, Metric, PluginFindings, Table
from fmaudit.plugins.base import AuditContext, AuditPlan, AuditPlugin, PluginParams

FIGURES: dict[str, tuple[str, Better]] = {
    "epsilon": ("Epsilon reached", "lower"),
    "delta": ("Delta", "lower"),
    "noise_multiplier": ("Noise multiplier", "none"),
    "sample_rate": ("Sampling rate", "none"),
    "steps": ("Optimizer steps", "none"),
    "max_grad_norm": ("Clipping norm", "none"),
}
NO_GUARANTEE = "trained without DP-SGD: no formal privacy guarantee"


class PrivacyPlugin(AuditPlugin[PluginParams]):
    name = "privacy"
    title = "Privacy"

    def metric_paths(self, params: PluginParams, plan: AuditPlan) -> list[str]:
        return ["privacy.dp", *(f"privacy.{figure}" for figure in FIGURES)]

    def run(self, context: AuditContext, params: PluginParams) -> PluginFindings:
        record = context.training.privacy
        if record is None:
            metrics = [Metric("privacy.dp", 0.0, "Trained with DP-SGD (1 = yes)")]
            metrics += [
                Metric(f"privacy.{f}", None, label, better, note=NO_GUARANTEE) for f, (label, better) in FIGURES.items()
            ]
            return PluginFindings(
                plugin=self.name,
                title=self.title,
                summary="The model was trained without differential privacy and carries no formal privacy "
                "guarantee: nothing bounds what it may reveal about individual training rows.",
                metrics=tuple(metrics),
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
        trained = ", ".join(context.training.trained_modules)
        statement = (
            ("Unit of privacy", "one training example (add/remove adjacency)"),
            ("Epsilon reached / target", f"{record.epsilon:.3f} / {record.target_epsilon:g}"),
            ("Delta", f"{record.delta:g} (1/N = {1 / record.dataset_size:.2e})"),
            ("Accountant", f"Opacus '{record.accountant}'"),
            ("Noise multiplier", f"{record.noise_multiplier:.4f}"),
            ("Clipping norm (per example)", f"{record.max_grad_norm:g}"),
            ("Dataset size N", record.dataset_size),
            ("Sampling rate / expected batch size", f"{record.sample_rate:.5f} / {record.expected_batch_size:g}"),
            ("Poisson sampling", "on" if record.poisson_sampling else "off"),
            ("Epochs / optimizer steps", f"{record.epochs} / {record.steps}"),
            ("Parameters covered", f"{trained} (frozen parameters are public and not covered)"),
            (
                "Secure RNG",
                "on" if record.secure_mode else "off (fine for experiments; retrain with secure_mode for production)",
            ),
            (
                "Outside the guarantee",
                "the base model's pretraining data, the test split, and the choice of hyper-parameters",
            ),
        )
        return PluginFindings(
            plugin=self.name,
            title=self.title,
            summary=f"Trained with DP-SGD to (ε = {record.epsilon:.2f}, δ = {record.delta:g}) at the example level, "
            f"accounted by Opacus's {record.accountant} accountant over {record.steps} steps.",
            metrics=tuple(metrics),
            tables=(Table(title="Differential-privacy statement", columns=("Item", "Value"), rows=statement),),
        )
