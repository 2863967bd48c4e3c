"""Shared fixtures: a tiny local BERT and Llama, spec files written on the fly, and a network guard."""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tiny_model import build_tiny_bert, build_tiny_llama

REPO = Path(__file__).resolve().parent.parent

GERMAN_CREDIT_SPEC: dict[str, Any] = {
    "name": "tiny",
    "description": "test run",
    "model": {"base": "minilm"},
    "data": {
        "source": "builtin:german_credit",
        "label": "creditability",
        "positive": "good",
        "sensitive": {
            "sex": {
                "column": "personal_status_and_sex",
                "map": {
                    "male : single": "male",
                    "male : married/widowed": "male",
                    "male : divorced/separated": "male",
                    "female : divorced/separated/married": "female",
                },
            },
            "age_group": {"column": "age_in_years", "bins": [0, 25, 200], "labels": ["under 25", "25 and over"]},
            "foreign_worker": {"column": "foreign_worker"},
        },
        "intersections": [["sex", "age_group"]],
        "template": "checking: {status_of_existing_checking_account}; duration: {duration_in_month} months; "
        "history: {credit_history}; sex: {personal_status_and_sex}; age: {age_in_years}",
        "split": {"test_size": 0.3, "seed": 1},
    },
    "training": {"epochs": 1, "batch_size": 32, "max_length": 64, "train_layers": "all"},
    "audits": {"performance": {}, "fairness": {}},
    "gates": ["performance.roc_auc.ci_low >= 0.6"],
}


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


class NetworkAttempt(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any attempt to resolve a host name or connect an internet socket; return the attempts made."""
    return guard_network(monkeypatch)


def guard_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch the socket layer so that any host lookup or internet connect raises and is recorded."""
    attempts: list[str] = []

    def refuse(what: str):  # type: ignore[no-untyped-def]
        def blocked(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{what}{args[1:] if what.startswith('socket.') else args}")
            raise NetworkAttempt(f"network access attempted: {what} {args}")

        return blocked

    original_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family == socket.AF_UNIX:
            return original_connect(self, address)
        return refuse("socket.connect")(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    return attempts
