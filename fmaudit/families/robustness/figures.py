"""The figures the robustness plugin reports, by metric-path name, with label and favourable direction.

Kept apart from the computation so listing metric paths (``fmaudit validate``) imports no TextAttack.
"""

from __future__ import annotations

from fmaudit.core.findings import Better

FIGURES: dict[str, tuple[str, Better]] = {
    "attack_success_rate": ("Attack success rate", "lower"),
    "accuracy_under_attack": ("Accuracy under attack", "higher"),
    "original_accuracy": ("Original accuracy", "higher"),
    "successful": ("Successful attacks", "lower"),
    "failed": ("Failed attacks (search exhausted)", "none"),
    "budget_exhausted": ("Attacks stopped by the query budget", "none"),
    "skipped": ("Skipped (misclassified before the attack)", "none"),
    "not_attacked": ("Not attacked within the time cap", "none"),
    "avg_words_perturbed_pct": ("Average % words perturbed", "none"),
    "avg_queries": ("Average queries", "none"),
}
"""Per-recipe figures; the rates and averages are TextAttack's own metrics over the attacked examples."""
GROUP_FIGURES: dict[str, tuple[str, Better]] = {
    "attack_success_rate": ("Attack success rate", "lower"),
    "accuracy_under_attack": ("Accuracy under attack", "higher"),
}
CELLS = ("skipped", "succeeded", "failed")
"""Per-group outcome counts; 'failed' includes attacks stopped by the budget, as TextAttack counts them."""
