"""One sensitive attribute's fairness audit on synthetic scores with a planted gap between groups."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fmaudit.families.fairness.attribute import audit_attribute


def synthetic(n: int, *, gap: float = 0.15, seed: int = 3, shares=(0.5, 0.4, 0.1)):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    groups = pd.Series(rng.choice(["a", "b", "c"], size=n, p=list(shares)))
    labels = rng.integers(0, 2, n)
    bias = groups.map({"a": gap / 2, "b": -gap / 2, "c": 0.0}).to_numpy()
    scores = np.clip(0.5 + bias + 0.25 * (labels - 0.5) + rng.normal(0, 0.15, n), 0, 1)
    return labels, (scores >= 0.5).astype(int), scores, groups


def run(labels, decisions, scores, groups, **kwargs):  # type: ignore[no-untyped-def]
    options = {"min_size": 1, "reference": None, "n_boot": 200, "confidence": 0.95, "rng": np.random.default_rng(0)}
    options.update(kwargs)
    return audit_attribute(
        labels=labels, decisions=decisions, scores=scores, groups=groups, all_groups=sorted(set(groups)), **options
    )
