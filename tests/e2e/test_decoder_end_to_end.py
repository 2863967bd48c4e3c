"""Every plugin, end to end and offline, on a tiny random-init Llama (SmolLM2's tokenizer) fine-tuned with
DP-LoRA, beside its non-private twin; and Integrated Gradients' completeness on the decoder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from fmaudit.core.errors import ExitCode
from fmaudit.plugins.registry import BUILTINS
from tests.support.explanations import assert_integrated_gradients_complete, text_field_view
from tests.support.network import guard_network
from tests.support.runs import Run, load_run, run_cli
from tests.support.specs import tiny_spec


@pytest.fixture(scope="module")
def decoder_run(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, list[str]]:
    workspace = tmp_path_factory.mktemp("decoder-e2e")
    spec = tiny_spec(tiny_llama)
    spec["data"]["max_rows"] = 120
    spec["training"] = {
        "epochs": 1,
        "batch_size": 16,
        "max_length": 64,
        "learning_rate": 0.01,
        "head_learning_rate": 0.01,
        "adapter": {"r": 4, "alpha": 8},
        "privacy": {"target_epsilon": 8, "delta": 1e-3, "grad_sample_mode": "ghost"},
    }
    spec["audits"]["privacy"] = {"reference_model": True}
    # 120 rows leave fewer membership-inference rows than the shared tiny spec's 90 per side.
    spec["gates"] = [gate for gate in spec["gates"] if "sweep" not in gate and "mia.members" not in gate]
    path = workspace / "decoder.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    with pytest.MonkeyPatch.context() as patch:
        attempts = guard_network(patch)
        code, stdout = run_cli(
            ["run", str(path), "--out", str(workspace / "reports"), "--cache-dir", str(workspace / "cache"), "--quiet"]
        )
    return load_run(code, stdout), attempts


@pytest.mark.slow
def test_every_plugin_audits_the_dp_lora_decoder_and_its_twin(decoder_run) -> None:  # type: ignore[no-untyped-def]
    run, attempts = decoder_run
    assert attempts == [] and run.code == ExitCode.OK, run.stdout
    assert set(run.findings["metrics"]) == set(BUILTINS)  # every built-in plugin, behaviour included
    training = run.findings["training"]
    assert training["pooling"] == "last non-padding token (decoder)"
    assert training["trained_modules"][0].startswith("LoRA adapters (r = 4, alpha = 8, dropout = 0) on q_proj, v_proj")
    assert training["privacy"]["grad_sample_mode"] == "ghost" and training["privacy"]["epsilon"] <= 8.01
    assert run.findings["metrics"]["robustness"]["DeepWordBugGao2018"]["not_attacked"]["value"] == 0
    assert run.findings["metrics"]["privacy"]["mia"]["calibrated"]["auc"]["value"] is not None
    counterfactual = run.findings["metrics"]["fairness"]["sex"]
    assert any(key.startswith("counterfactual") for key in counterfactual), sorted(counterfactual)
    assert "Adapter</dt><dd>LoRA (peft): rank 4, alpha 8" in run.html
    assert "Pooling</dt><dd>last non-padding token (decoder)" in run.html
    privacy = next(section for section in run.findings["sections"] if section["plugin"] == "privacy")
    statement = next(t for t in privacy["tables"] if t["title"] == "Differential-privacy statement")
    covered = dict(statement["rows"])["Parameters covered"]
    assert covered.startswith("LoRA adapters (r = 4, alpha = 8, dropout = 0) on q_proj, v_proj: 4 linear layers")
    twin = (run.report_dir / "twin" / "findings.json").read_text()
    assert '"adapter"' in twin and '"privacy": null' in twin


def test_integrated_gradients_is_complete_on_the_decoder(
    tiny_llama: Path, spec_dict: dict[str, Any], tmp_path: Path
) -> None:
    explained, batch, fields, _ = text_field_view(tiny_llama, spec_dict, tmp_path)
    outside = batch.field_mask == len(fields)
    assert torch.equal(batch.baselines[outside], batch.inputs[outside])  # template tokens (and BOS) are shared
    assert (~outside).sum(dim=1).min() > 5  # BPE tokens map to the fields they came from
    assert_integrated_gradients_complete(explained, batch, outside)
