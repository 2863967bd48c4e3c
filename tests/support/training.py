"""The tiny BERT fine-tuned on a few German Credit rows, for the tests of training and of its DP guarantee."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fmaudit.spec import DataSpec, ModelSpec, TrainingSpec


def fine_tune_tiny(tiny_bert: Path, directory: Path, spec_dict, **training: Any) -> Any:  # type: ignore[no-untyped-def]
    """The tiny BERT fine-tuned on 80 rows of German Credit with the given training settings; its record."""
    from fmaudit.data import prepare
    from fmaudit.training.fine_tuning import fine_tune

    spec_dict["data"]["max_rows"] = 80
    data_spec = DataSpec.model_validate(spec_dict["data"])
    return fine_tune(
        model_spec=ModelSpec(base=str(tiny_bert)),
        base_dir=directory,
        data=prepare(data_spec, base_dir=directory),
        data_spec=data_spec,
        data_sha256="d",
        training=TrainingSpec.model_validate({"epochs": 2, "batch_size": 16, "max_length": 32, **training}),
        cache_dir=directory / "cache",
        show_progress=False,
    )[1]
