"""The spec reference, ``docs/spec.md``, generated from the pydantic models of :mod:`fmaudit.spec`.

The walk starts at :class:`~fmaudit.spec.Spec` and follows every field's annotation into nested models, through
optionals, unions, lists and mappings; each model gets one section (its docstring, the key paths where it sits,
and a table of key, type, default and description). The output depends only on the models, so it is the same
on every machine: ``python -m fmaudit.spec_reference > docs/spec.md`` regenerates the page, and a test fails
when the committed page differs.

Plugin parameters (``audits.<plugin>``) are validated by each plugin's own model, above this layer; they are
documented on the family pages, not here.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from fmaudit.spec import Spec

REGENERATE = "python -m fmaudit.spec_reference > docs/spec.md"
"""The command that writes docs/spec.md (run from the repository root)."""

CONSTRAINTS: tuple[tuple[str, str], ...] = (
    ("gt", "> {}"),
    ("ge", ">= {}"),
    ("lt", "< {}"),
    ("le", "<= {}"),
    ("multiple_of", "multiple of {}"),
    ("min_length", "at least {} item(s)"),
    ("max_length", "at most {} item(s)"),
    ("pattern", "matching `{}`"),
)
"""Attributes of pydantic / annotated-types field metadata, and how each reads in the type column."""

PLAIN_SCALAR = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
"""Strings YAML reads back as the same string when written bare (others are quoted)."""
YAML_SPECIAL = re.compile(r"^(?i:y|n|yes|no|on|off|true|false|null)$")
"""Bare words YAML 1.1 or 1.2 would read as something other than a string."""

TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
"""A ``<`` that Markdown renderers would take for the start of an HTML tag."""

HEADER = f"""\
# Spec reference

<!-- Generated from fmaudit/spec/ by `{REGENERATE}`; do not edit by hand. -->

Every key of an audit spec (the YAML file `fmaudit run` and `fmaudit validate` read), section by section,
starting at the top level. Unknown keys are errors, and every problem is reported at once with the file and
the key path. A key left out takes its default; "required" marks the keys without one.

`audits` maps a plugin name to that plugin's parameters, which the plugin validates with its own model: the
family pages under [families/](families/) list them. `gates` holds strings of the form
`<metric path> <op> <number>`; `fmaudit plugins SPEC` lists the metric paths a spec can gate.
"""


@dataclass
class _Section:
    model: type[BaseModel]
    paths: list[str] = field(default_factory=list)


def render_spec_reference() -> str:
    """The whole reference as Markdown, one section per model reachable from ``Spec``, in walk order."""
    parts = [HEADER]
    for section in _sections(Spec):
        parts.append(_render_section(section))
    return "\n".join(parts)


def _sections(root: type[BaseModel]) -> list[_Section]:
    """Depth-first over the fields, in declaration order; a model met again only adds its key path."""
    found: dict[type[BaseModel], _Section] = {}

    def visit(model: type[BaseModel], path: str) -> None:
        if model in found:
            found[model].paths.append(path)
            return
        found[model] = _Section(model, [path])
        for name, info in model.model_fields.items():
            for nested, suffix in _nested_models(info.annotation):
                visit(nested, f"{path}.{name}{suffix}" if path else f"{name}{suffix}")

    visit(root, "")
    return list(found.values())


def _nested_models(annotation: Any, suffix: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    """The models inside an annotation, each with what its key path adds below the field's own key."""
    if _is_model(annotation):
        yield annotation, suffix
        return
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return
    if origin is dict:
        yield from _nested_models(args[1], f"{suffix}.<{_key_name(args[0])}>")
    elif origin in (list, tuple, set, frozenset):
        for arg in args:
            if arg is not Ellipsis:
                yield from _nested_models(arg, f"{suffix}[]")
    else:
        for arg in args:
            yield from _nested_models(arg, suffix)


def _key_name(annotation: Any) -> str:
    return "name" if annotation is str else _type_text(annotation)


def _render_section(section: _Section) -> str:
    model = section.model
    lines = [f"## {model.__name__}", ""]
    doc = model.__dict__.get("__doc__")
    if doc:
        lines += [_markdown(inspect.cleandoc(doc)), ""]
    where = ", ".join(f"`{path}`" for path in section.paths if path)
    lines += [f"At {where}." if where else "The top level of a spec file.", ""]
    lines += ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for name, info in model.model_fields.items():
        cells = (f"`{name}`", _type_cell(info), _default_cell(info), _cell(info.description or ""))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def _type_cell(info: FieldInfo) -> str:
    text = _type_text(info.annotation)
    constraints = [
        template.format(getattr(item, attribute))
        for item in info.metadata
        for attribute, template in CONSTRAINTS
        if getattr(item, attribute, None) is not None
    ]
    return _cell(", ".join([text, *constraints]))


def _type_text(annotation: Any) -> str:
    """An annotation as a reader of YAML sees it: ``int or `all```, ``list of float``, a link to a model."""
    if annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if _is_model(annotation):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _type_text(args[0])
    if origin is Literal:
        return " or ".join(f"`{_yaml(value)}`" for value in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(arg) for arg in args)
    if origin in (list, tuple, set, frozenset):
        items = [_inner(arg) for arg in args if arg is not Ellipsis]
        return "list of " + (" and ".join(items) if items else "any")
    if origin is dict:
        return f"mapping of {_inner(args[0])} to {_inner(args[1])}" if args else "mapping"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _inner(annotation: Any) -> str:
    """A type inside a list or mapping, bracketed when it is a choice (so ``or`` binds inside)."""
    text = _type_text(annotation)
    return f"({text})" if " or " in text else text


def _default_cell(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        if not value.model_fields_set:
            return "its defaults"
        value = value.model_dump(mode="json")
    return _cell(f"`{_yaml(value)}`")


def _yaml(value: Any) -> str:
    """A value as it would be written in the spec (JSON is valid YAML flow style)."""
    if isinstance(value, str) and PLAIN_SCALAR.match(value) and not YAML_SPECIAL.match(value):
        return value
    if isinstance(value, float) and math.isfinite(value):
        mantissa, e, exponent = repr(value).partition("e")
        return f"{mantissa if '.' in mantissa else mantissa + '.0'}{e}{exponent}"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_opaque)


def _opaque(value: Any) -> str:
    """A default JSON cannot write is shown by its type's name (its repr may hold a memory address)."""
    return type(value).__name__


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _markdown(text: str) -> str:
    """Docstrings use reStructuredText literals (``x``), Markdown single backticks; outside code, a ``<`` is
    escaped where it would open an HTML tag, so that ``<dir>`` is shown, not dropped as markup."""
    parts = text.replace("``", "`").split("`")
    return "`".join(part if index % 2 else TAG_START.sub("&lt;", part) for index, part in enumerate(parts))


def _cell(text: str) -> str:
    """Text safe inside one Markdown table cell."""
    return _markdown(" ".join(text.split())).replace("|", "\\|")


def main() -> int:
    sys.stdout.write(render_spec_reference())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
