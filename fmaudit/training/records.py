"""What training leaves behind for the report and the DP statement: the training record and, under DP,
everything the privacy claim rests on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Release:
    """One Gaussian-mechanism release of a statistic of the training rows, noise std = multiplier x sensitivity;
    in the accountant it is one step at sample rate 1."""

    name: str
    noise_multiplier: float
    sensitivity: float

    @property
    def history_entry(self) -> tuple[float, float, int]:
        """The entry Opacus's accountants compose it as: (noise multiplier, sample rate, steps)."""
        return (self.noise_multiplier, 1.0, 1)


@dataclass(frozen=True)
class PrivacyRecord:
    """Everything a DP claim needs (Ponomareva et al. 2023, 'How to DP-fy ML')."""

    target_epsilon: float
    epsilon: float
    delta: float
    accountant: str
    noise_multiplier: float
    max_grad_norm: float
    sample_rate: float
    expected_batch_size: float
    dataset_size: int
    epochs: int
    steps: int
    poisson_sampling: bool
    secure_mode: bool
    max_physical_batch_size: int
    grad_sample_mode: str
    noise_source: str
    """'os-entropy', 'secure' or 'seeded' (reproducible_noise: replayable, so no guarantee)."""
    releases: list[Release] = field(default_factory=list)
    """Statistics of the training rows released before training, inside epsilon."""
    outside_guarantee: list[str] = field(default_factory=list)
    """Statistics of the training rows the weights depend on that epsilon does NOT cover."""

    @property
    def history(self) -> list[tuple[float, float, int]]:
        """Everything the accountant composed: the releases, then the sampled DP-SGD steps."""
        return [*(r.history_entry for r in self.releases), (self.noise_multiplier, self.sample_rate, self.steps)]

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PrivacyRecord:
        return cls(**{**raw, "releases": [Release(**release) for release in raw.get("releases", [])]})


@dataclass(frozen=True)
class TrainingRecord:
    """How the audited model came to be."""

    base_model: str
    base_model_dir: str
    base_model_sha256: str
    cache_key: str
    weights_sha256: str
    seconds: float
    epoch_losses: list[float]
    trainable_parameters: int
    total_parameters: int
    trained_modules: list[str]
    settings: dict[str, Any]
    training_rows: int
    rows_sha256: str
    """Hash of the training row ids: the split's train rows, or a subset (a membership-inference reference model)."""
    privacy: PrivacyRecord | None = None
    epoch_seconds: list[float] = field(default_factory=list)
    """Wall time of each epoch (empty in records written before it was kept)."""
    pooling: str = ""
    """How a text classifier turns token states into one vector (empty for tabular models)."""
    from_cache: bool = False
    notes: list[str] = field(default_factory=list)
    source_format: str = ""
    """The format of a model trained elsewhere (``model.source``); empty when fmaudit trained it."""

    @property
    def trained_elsewhere(self) -> bool:
        return bool(self.source_format)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TrainingRecord:
        privacy = raw.pop("privacy")
        return cls(**raw, privacy=PrivacyRecord.from_json(privacy) if privacy else None)


@dataclass(frozen=True)
class Origin:
    """Where a model starts from, recorded with it: a pretrained base (text) or an architecture (tabular)."""

    name: str
    directory: str
    sha256: str
