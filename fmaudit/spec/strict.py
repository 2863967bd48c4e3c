"""The base of every spec section and plugin parameter model (unknown keys are errors, values immutable), and
how their validation errors read: ``key.path: what was expected; got what``, with the nearest key for a typo."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """Base for spec sections: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PluginParams(StrictModel):
    """Base for plugin parameter models (each plugin's ``audits.<name>`` section): unknown keys are spec errors."""


def format_validation_errors(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """Render pydantic errors as 'key.path: expected ...; got ...' lines."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc) if loc else "(top level)"
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            hint = difflib.get_close_matches(loc[-1], allowed, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            lines.append(f"{key}: unknown key{suggestion}; expected one of: {', '.join(allowed)}")
        elif error["type"] == "missing":
            lines.append(f"{key}: required key is missing")
        else:
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{key}: {message}; got {error.get('input')!r}")
    return lines


def _allowed_keys(model: type[BaseModel], loc: list[str]) -> list[str]:
    """The field names of the (nested) model that ``loc`` points into."""
    current: Any = model
    for part in loc:
        current = _field_type(current, part)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _field_type(current: Any, part: str) -> Any:
    """Step one key deeper into a model's annotations, through Optional and dict."""
    if isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
        return _unwrap(current.model_fields[part].annotation)
    origin = typing.get_origin(current)
    if origin is dict:
        return _unwrap(typing.get_args(current)[1])
    if origin is list:
        return _unwrap(typing.get_args(current)[0])
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip ``X | None`` down to X."""
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation
