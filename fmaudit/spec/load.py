"""Reading a spec file: YAML, then the strict models, then the checks across sections; every problem at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from fmaudit.core.errors import SpecError
from fmaudit.spec.sections import Spec
from fmaudit.spec.strict import format_validation_errors


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec and where it came from. Plugin parameters stay raw here: the plugins validate
    their own (``fmaudit.plugins.registry.resolve_plugins``), so this layer knows nothing of them."""

    spec: Spec
    path: Path

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def load_spec(path: str | Path) -> LoadedSpec:
    """Read, parse and validate a spec file; raise SpecError listing every problem."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise SpecError(f"{where}: no such spec file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping of spec sections; got {type(raw).__name__}")
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError([f"{where}: {line}" for line in format_validation_errors(exc, Spec)]) from exc
    problems = [f"{where}: {problem}" for problem in spec.kind_problems()]
    if problems:
        raise SpecError(problems)
    return LoadedSpec(spec=spec, path=path.resolve())
