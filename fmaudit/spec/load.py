"""Reading a spec file: YAML, then the strict models, then the checks across sections; every problem at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    left_out: frozenset[str] = frozenset()
    """Top-level sections where an invalid value was left out (``read_spec``); empty once loaded."""

    @property
    def base_dir(self) -> Path:
        return self.path.parent


MAX_LEFT_OUT = 50
"""Rounds of validation, at most, each leaving out the keys the last one found bad, while looking for the
problems of the rest of a spec."""


def load_spec(path: str | Path) -> LoadedSpec:
    """Read, parse and validate a spec file; raise SpecError listing every problem."""
    loaded, problems = read_spec(path)
    if problems or loaded is None:
        raise SpecError(problems)
    return loaded


def read_spec(path: str | Path) -> tuple[LoadedSpec | None, list[str]]:
    """Every problem of the spec file's schema, and the spec with each offending key left out (taking its
    default), so that the data and the gates can still be checked and all problems reported at once; the spec
    is None where the file cannot be read or the rest cannot stand without the offending keys (a required one).

    Sections where a bad value was left out are named in ``LoadedSpec.left_out``: checks that read them are
    not meaningful (an unknown key left out changes nothing, so it leaves its section whole)."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        return None, [f"{where}: no such spec file"]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return None, [f"{where}: not valid YAML: {exc}"]
    if not isinstance(raw, dict):
        return None, [f"{where}: expected a mapping of spec sections; got {type(raw).__name__}"]
    problems: list[str] = []
    left_out: set[str] = set()
    removed: set[tuple[Any, ...]] = set()
    for _ in range(MAX_LEFT_OUT):
        try:
            spec = Spec.model_validate(raw)
            break
        except ValidationError as exc:
            errors = exc.errors()
            lines = format_validation_errors(exc, Spec)  # one per error, in order
            # A required key this loop removed is missing now: no new problem, but the spec cannot stand.
            fresh = [(e, line) for e, line in zip(errors, lines, strict=True) if tuple(e["loc"]) not in removed]
            problems += [f"{where}: {line}" for _, line in fresh]
            # Only unknown keys and single bad values are left out: leaving out a whole section or mapping (a
            # check across its keys failed) would raise problems of its own in whatever refers to it.
            whole = any(isinstance(e.get("input"), dict | list) and e["type"] != "extra_forbidden" for e, _ in fresh)
            if whole or len(fresh) < len(errors) or not all(_leave_out(raw, tuple(e["loc"])) for e, _ in fresh):
                return None, problems
            removed |= {tuple(e["loc"]) for e, _ in fresh}
            # An unknown key left out changes no setting; a bad value left out takes the default instead.
            left_out |= {str(e["loc"][0]) for e, _ in fresh if e["loc"] and e["type"] != "extra_forbidden"}
    else:
        return None, problems
    problems += [f"{where}: {problem}" for problem in spec.kind_problems()]
    return LoadedSpec(spec=spec, path=path.resolve(), left_out=frozenset(left_out)), problems


def _leave_out(raw: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    """Remove the key at ``loc`` from ``raw`` (in place); False where there is none to remove (a required key
    that is missing, or an error about a whole value), so the spec cannot stand without it."""
    node: Any = raw
    for part in loc[:-1]:
        in_dict = isinstance(node, dict) and part in node
        if not (in_dict or (isinstance(node, list) and isinstance(part, int) and part < len(node))):
            return False
        node = node[part]
    if not loc or not isinstance(node, dict) or loc[-1] not in node:
        return False
    del node[loc[-1]]
    return True
