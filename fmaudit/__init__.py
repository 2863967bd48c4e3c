"""fmaudit: fine-tune a model from an audit spec, audit it, report, and gate the release.

The public API is small: ``plan`` and ``run`` (the pipeline), ``load_spec``, the
plugin contract in ``fmaudit.plugins`` and the exceptions in ``fmaudit.core.errors``.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "load_spec", "plan", "run"]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """Import the pipeline lazily so ``import fmaudit`` stays light."""
    if name in {"plan", "run"}:
        from fmaudit.engine import pipeline

        return getattr(pipeline, name)
    if name == "load_spec":
        from fmaudit.spec import load_spec

        return load_spec
    raise AttributeError(f"module 'fmaudit' has no attribute {name!r}")
