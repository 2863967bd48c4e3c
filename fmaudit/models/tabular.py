"""The tabular runner: a small torch MLP on the template's columns, one-hot encoded
(categorical) or standardised (numeric), so the same spec can audit a tabular model.

The encoding is fitted on the training split only and keeps, for every encoded
feature, the column it came from: attributions over one-hot groups sum back to
their column. The MLP trains through the same loop as the text model
(``fmaudit.training``), with or without DP-SGD.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from fmaudit.core.errors import ModelError
from fmaudit.models.base import FrameClassifier

if TYPE_CHECKING:
    import torch


ENCODER_FILE = "encoder.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class ColumnEncoding:
    """How one column becomes features: standardised (one feature) or one-hot (one per category)."""

    column: str
    kind: Literal["numeric", "categorical"]
    mean: float = 0.0
    scale: float = 1.0
    categories: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return 1 if self.kind == "numeric" else len(self.categories)

    def encode(self, values: pd.Series) -> np.ndarray:
        """Features for one column (rows x width); a missing number is the mean, a missing or unseen category
        all zeros."""
        if self.kind == "numeric":
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
            return ((np.where(np.isnan(numbers), self.mean, numbers) - self.mean) / self.scale)[:, None]
        as_text = values.astype("string")  # pd.NA compares as NA, filled as "no match"
        hits = [as_text.eq(c).fillna(False).to_numpy(dtype=np.float64) for c in self.categories]
        return np.stack(hits, axis=1) if hits else np.zeros((len(values), 0))


@dataclass(frozen=True)
class TabularEncoder:
    """One-hot / standardised encoding of the model's input columns, fitted on the training split."""

    columns: tuple[ColumnEncoding, ...]

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> TabularEncoder:
        encodings = []
        for name in frame.columns:
            values = frame[name]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                numbers = pd.to_numeric(values, errors="coerce")
                scale = float(numbers.std(ddof=0))
                encodings.append(
                    ColumnEncoding(str(name), "numeric", mean=float(numbers.mean()), scale=scale if scale > 0 else 1.0)
                )
            else:
                categories = tuple(sorted(str(v) for v in values.dropna().astype("string").unique()))
                encodings.append(ColumnEncoding(str(name), "categorical", categories=categories))
        return cls(tuple(encodings))

    @property
    def column_names(self) -> list[str]:
        return [c.column for c in self.columns]

    @property
    def feature_columns(self) -> list[str]:
        """For every encoded feature, the column it came from (the map attributions are summed back with)."""
        return [c.column for c in self.columns for _ in range(c.width)]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encoded features (rows x features, float32) of a frame holding at least the encoded columns."""
        parts = [c.encode(frame[c.column]) for c in self.columns]
        return np.concatenate(parts, axis=1).astype(np.float32) if parts else np.zeros((len(frame), 0), np.float32)

    def to_json(self) -> str:
        return json.dumps([asdict(c) for c in self.columns], indent=2)

    @classmethod
    def from_json(cls, text: str) -> TabularEncoder:
        return cls(tuple(ColumnEncoding(**{**c, "categories": tuple(c["categories"])}) for c in json.loads(text)))


def build_mlp(n_features: int, hidden: Sequence[int]) -> torch.nn.Sequential:
    """Linear + ReLU layers of the given widths, then two logits (unfavourable, favourable)."""
    import torch

    layers: list[torch.nn.Module] = []
    width = n_features
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU()]
        width = size
    layers.append(torch.nn.Linear(width, 2))
    return torch.nn.Sequential(*layers)


class TabularClassifier(FrameClassifier):
    """An MLP over encoded columns; scores are P(favourable outcome)."""

    kind = "tabular"

    def __init__(self, model: torch.nn.Module, encoder: TabularEncoder, *, hidden: Sequence[int]) -> None:
        self.model = model.eval()
        self.encoder = encoder
        self.hidden = list(hidden)

    def features(self, frame: pd.DataFrame) -> torch.Tensor:
        import torch

        return torch.as_tensor(self.encoder.transform(frame))

    def favourable_probability(self, features: torch.Tensor) -> torch.Tensor:
        """P(favourable) as a differentiable function of the encoded features (for Captum)."""
        import torch

        return torch.softmax(self.model(features), dim=-1)[:, 1]

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.favourable_probability(self.features(frame)).numpy().astype(np.float64)

    @property
    def input_columns(self) -> list[str]:
        return self.encoder.column_names

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.model.state_dict().items()}, directory / WEIGHTS_FILE)
        (directory / ENCODER_FILE).write_text(
            json.dumps({"hidden": self.hidden, "columns": json.loads(self.encoder.to_json())}, indent=2)
        )

    def to_onnx(self, path: Path) -> None:
        """The MLP as ONNX: input ``features`` (rows x encoded features, float32, as ``encoder.json`` encodes
        them), output ``probabilities`` (rows x 2, softmax of the logits): column 1 is P(favourable), the score
        the audit judged.

        The TorchScript exporter: it needs only the ``onnx`` package (pip install 'fmaudit[tabular]'), where
        torch's default exporter would also need onnxscript."""
        import importlib.util
        import warnings

        import torch

        if importlib.util.find_spec("onnx") is None:
            raise ModelError("exporting the tabular MLP as ONNX needs the onnx package: pip install 'fmaudit[tabular]'")
        scorer = torch.nn.Sequential(self.model, torch.nn.Softmax(dim=-1)).eval()
        example = torch.zeros(1, len(self.encoder.feature_columns))
        with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice: chosen on purpose
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                scorer,
                (example,),
                str(path),
                dynamo=False,
                input_names=["features"],
                output_names=["probabilities"],
                dynamic_axes={"features": {0: "rows"}, "probabilities": {0: "rows"}},
                opset_version=17,
            )

    @classmethod
    def load(cls, directory: Path) -> TabularClassifier:
        from safetensors.torch import load_file

        try:
            saved = json.loads((directory / ENCODER_FILE).read_text())
            encoder = TabularEncoder.from_json(json.dumps(saved["columns"]))
            model = build_mlp(len(encoder.feature_columns), saved["hidden"])
            model.load_state_dict(load_file(directory / WEIGHTS_FILE))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(f"cannot load the cached tabular model from {directory}: {exc}") from exc
        return cls(model, encoder, hidden=saved["hidden"])
