"""Training: the one loop (``loop``) that fits any model through its feed (``feeds``), DP-SGD setup
(``privacy``), the model cache (``cache``), the records a run keeps (``records``), and ``fine_tuning.fine_tune``, the
runner that ties them together. Imports torch only inside the functions that train."""

from fmaudit.training.fine_tuning import fine_tune
from fmaudit.training.records import PrivacyRecord, TrainingRecord

__all__ = ["PrivacyRecord", "TrainingRecord", "fine_tune"]
