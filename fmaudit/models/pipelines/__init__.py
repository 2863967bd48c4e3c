"""Tabular models trained elsewhere: a scikit-learn, XGBoost or LightGBM model saved with skops, or any model
exported to ONNX, scored as a black box (``PipelineClassifier``). Loading checks, before any work, that the file
is safe to load, that its input columns are the data's and that its classes are the data's label values.

skops and onnxruntime are imported only when a file is loaded (``pip install 'fmaudit[tabular]'``).
"""

from fmaudit.models.pipelines.classifier import PipelineClassifier
from fmaudit.models.pipelines.onnx_file import load_onnx
from fmaudit.models.pipelines.skops_file import load_skops

__all__ = ["PipelineClassifier", "load_onnx", "load_skops"]
