"""docs/spec.md is generated from the spec's pydantic models: it must match them, and list every key."""

from __future__ import annotations

import difflib
import itertools
import re
from typing import Any

import pytest

from fmaudit.spec import Spec
from fmaudit.spec_reference import REGENERATE, render_spec_reference
from tests.support.specs import REPO

PAGE = REPO / "docs" / "spec.md"


def test_committed_reference_is_up_to_date() -> None:
    rendered = render_spec_reference()
    committed = PAGE.read_text(encoding="utf-8") if PAGE.is_file() else ""
    if committed != rendered:
        diff = difflib.unified_diff(
            committed.splitlines(keepends=True), rendered.splitlines(keepends=True), "docs/spec.md", "generated"
        )
        pytest.fail(
            "docs/spec.md is out of date with fmaudit/spec/; regenerate it from the repository root with:\n"
            f"    {REGENERATE}\n" + "".join(itertools.islice(diff, 60)),
            pytrace=False,
        )


def _sections(text: str) -> dict[str, str]:
    """Section title -> its body, for every '## ' heading."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def _schema_models() -> dict[str, dict[str, Any]]:
    """Every model of the spec as pydantic's JSON schema sees it (found independently of the renderer's walk):
    title -> its properties."""
    schema = Spec.model_json_schema()
    models = {schema["title"]: schema["properties"]}
    models.update({d["title"]: d["properties"] for d in schema.get("$defs", {}).values() if "properties" in d})
    return models


def test_every_key_of_every_nested_model_is_listed() -> None:
    rendered = _sections(render_spec_reference())
    models = _schema_models()
    assert {"Spec", "DataSpec", "TrainingSpec", "PrivacySpec", "SensitiveSpec", "OutputSpec"} <= set(models)
    assert set(rendered) == set(models), "one section per model of the spec, and no other"
    missing = []
    for title, properties in models.items():
        rows = {line.split("|")[1].strip() for line in rendered[title].splitlines() if line.startswith("| `")}
        missing += [f"{title}.{key}" for key in properties if f"`{key}`" not in rows]
        section = rendered[title].replace("&lt;", "<").replace("\\|", "|")
        for key, prop in properties.items():
            description = prop.get("description")
            if description and " ".join(description.split()).replace("``", "`") not in section:
                missing.append(f"{title}.{key} (its description)")
    assert not missing, f"keys missing from the spec reference: {missing}"


def test_defaults_and_requirements_are_stated() -> None:
    rows = _sections(render_spec_reference())
    assert "| `target_epsilon` | float, > 0 | required |" in rows["PrivacySpec"]
    assert "| `test_size` | float, > 0.0, < 1.0 | `0.3` |" in rows["SplitSpec"]
    assert '`["html", "junit", "md"]`' in rows["OutputSpec"]
    assert "At `data.sensitive.<name>`." in rows["SensitiveSpec"]
