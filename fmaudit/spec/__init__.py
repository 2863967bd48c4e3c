"""The audit spec: one YAML file, parsed into typed models that forbid unknown keys.

Every problem in a spec is collected and reported at once, each line as
``file: key.path: what was expected; got what``, before any work starts. ``strict`` holds the base models and
how their errors read, ``sections`` the spec's sections, ``load`` the reading of a file.
"""

from fmaudit.spec.load import LoadedSpec, load_spec, read_spec
from fmaudit.spec.sections import (
    DEFAULT_FORMATS,
    DEFAULT_MLFLOW_STORE,
    GDP_COMPOSITION,
    MAX_SEED_REPLICAS,
    TABULAR_FORMATS,
    TEXT_ONLY_TRAINING,
    AdapterSpec,
    DataSpec,
    MlflowSpec,
    ModelKind,
    ModelSpec,
    MonitorSpec,
    OutputSpec,
    PrivacySpec,
    SensitiveSpec,
    SourceSpec,
    Spec,
    SplitSpec,
    TrainedOnSpec,
    TrainingSpec,
)
from fmaudit.spec.strict import PluginParams, StrictModel, format_validation_errors

__all__ = [
    "DEFAULT_FORMATS",
    "DEFAULT_MLFLOW_STORE",
    "GDP_COMPOSITION",
    "MAX_SEED_REPLICAS",
    "TABULAR_FORMATS",
    "TEXT_ONLY_TRAINING",
    "AdapterSpec",
    "DataSpec",
    "LoadedSpec",
    "MlflowSpec",
    "ModelKind",
    "ModelSpec",
    "MonitorSpec",
    "OutputSpec",
    "PluginParams",
    "PrivacySpec",
    "SensitiveSpec",
    "SourceSpec",
    "Spec",
    "SplitSpec",
    "StrictModel",
    "TrainedOnSpec",
    "TrainingSpec",
    "format_validation_errors",
    "load_spec",
    "read_spec",
]
