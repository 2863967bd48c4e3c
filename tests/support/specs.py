"""Specs shared by the tests: the repository root, the German Credit spec every test starts from, the wide
ten-field template, and the tiny-model and tabular variants the end-to-end runs use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

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


WIDE_TEMPLATE = (
    "checking: {status_of_existing_checking_account}; duration: {duration_in_month} months; "
    "history: {credit_history}; purpose: {purpose}; amount: {credit_amount} DM; "
    "savings: {savings_account_and_bonds}; employed: {present_employment_since}; housing: {housing}; "
    "sex: {personal_status_and_sex}; age: {age_in_years}"
)


def tiny_spec(model_dir: Path, **changes: Any) -> dict[str, Any]:
    spec = json.loads(json.dumps(GERMAN_CREDIT_SPEC))
    spec["description"] = "<script>alert('x')</script> tiny & fast"
    spec["model"]["base"] = str(model_dir)
    spec["data"]["max_rows"] = 300
    spec["data"]["sensitive"]["sex"]["map"]["female : divorced/separated/married"] = "female <F>"
    spec["training"] = {
        "epochs": 1,
        "batch_size": 32,
        "max_length": 64,
        "train_layers": 1,
        "head_learning_rate": 0.01,
        "privacy": {"target_epsilon": 8, "delta": 1e-4, "sweep": [2]},
    }
    spec["audits"] = {
        "data": {"n_boot": 100},
        "performance": {},
        "fairness": {"min_group_size": 5},
        "explanations": {"samples": 4, "notices": 4, "n_steps": 8, "random_orders": 1},
        "robustness": {"recipes": ["DeepWordBugGao2018"], "samples": 3, "query_budget": 60},
        "privacy": {},
        "behaviour": {
            "rows": 8,
            "n_boot": 50,
            "monotonicity": {
                "credit_history": {
                    "order": ["delay in paying off in the past", "existing credits paid back duly till now"]
                }
            },
            "invariance": {"field_order": 1},
            "templates": {"short": "history: {credit_history}; checking: {status_of_existing_checking_account}"},
        },
    }
    # Gates whose outcome is known: each would fail if its figure were wrong (the run's own budget, every
    # sampled row attacked, balanced membership sets of every test row, the majority baseline's definition).
    spec["gates"] = [
        "privacy.epsilon <= 8.01",
        "privacy.dp == 1",
        "robustness.DeepWordBugGao2018.not_attacked == 0",
        "privacy.mia.members == 90",
        "performance.baselines.majority.balanced_accuracy == 0.5",
    ]
    spec.update(changes)
    return spec


def tabular_spec(spec: dict[str, Any]) -> dict[str, Any]:
    spec["model"] = {"kind": "tabular", "hidden": [16]}
    spec["data"]["max_rows"] = 300
    spec["training"] = {"epochs": 5, "batch_size": 16, "learning_rate": 5e-3, "class_weight": "balanced"}
    spec["audits"] = {
        "performance": {"n_boot": 50},
        "fairness": {"n_boot": 50, "min_group_size": 5},
        "explanations": {"samples": 40, "chunk_size": 30, "reasons": {"credit_history": "History"}},
        "privacy": {},
    }
    # The MLP reads sex and age: changing sex flips some decisions, and most notices find a reason.
    spec["gates"] = ["explanations.notices.missing_reason_share <= 0.5", "fairness.sex.counterfactual.flip_rate > 0"]
    return spec
