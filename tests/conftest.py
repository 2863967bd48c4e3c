"""Shared fixtures: a tiny local BERT and Llama, spec files written on the fly, a network guard, and the wide
ten-field spec and data of the explanations tests. Their helpers live in tests.support."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fmaudit.data import PreparedData, prepare
from fmaudit.spec import Spec
from tests.support.network import guard_network
from tests.support.specs import GERMAN_CREDIT_SPEC, WIDE_TEMPLATE
from tests.support.tiny_model import build_tiny_bert, build_tiny_llama


@pytest.fixture
def spec_dict() -> dict[str, Any]:
    """A fresh, valid spec as a dict, for tests to modify."""
    return copy.deepcopy(GERMAN_CREDIT_SPEC)


@pytest.fixture
def write_spec(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a spec dict (or raw text) to a YAML file in tmp_path; return its path."""

    def write(spec: dict[str, Any] | str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session", autouse=True)
def no_output_side_channels() -> Iterator[None]:
    """Runs in tests neither sign with the developer's key nor append to a CI job's summary."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FMAUDIT_SIGNING_KEY", raising=False)
        patch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        yield


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random-init BERT with MiniLM's vocabulary, saved as a local model directory."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random-init Llama with SmolLM2's tokenizer, saved as a local model directory."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any attempt to resolve a host name or connect an internet socket; return the attempts made."""
    return guard_network(monkeypatch)


@pytest.fixture
def wide_spec(spec_dict: dict[str, Any]) -> Spec:
    spec_dict["data"]["template"] = WIDE_TEMPLATE
    spec_dict["data"]["max_rows"] = 240
    spec_dict["model"] = {"kind": "tabular"}
    spec_dict["training"] = {"epochs": 1}
    return Spec.model_validate(spec_dict)


@pytest.fixture
def wide_data(wide_spec: Spec, tmp_path: Path) -> PreparedData:
    return prepare(wide_spec.data, base_dir=tmp_path)
