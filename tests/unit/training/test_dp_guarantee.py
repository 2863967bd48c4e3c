"""The DP guarantee as stated: noise nobody can replay, every statistic of the training rows inside epsilon
(or listed outside it), and the reported epsilon equal to Opacus's accountant replaying the whole history."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from fmaudit.spec import DataSpec, ModelSpec, PrivacySpec, TrainingSpec
from tests.support.training import fine_tune_tiny

PRIVACY = {"target_epsilon": 8, "delta": 1e-3, "accountant": "rdp"}


def _fine_tune(tiny_bert: Path, directory: Path, spec_dict: dict[str, Any], **training: Any) -> Any:
    return fine_tune_tiny(tiny_bert, directory, spec_dict, train_layers=0, **training)


# Opacus's own calibration (the oracle here) notes the edge of its RDP order grid and that GDP is experimental;
# fmaudit's calls silence the first.
@pytest.mark.filterwarnings("ignore:Optimal order is the largest alpha")
@pytest.mark.filterwarnings("ignore:GDP accounting is experimental")
@pytest.mark.parametrize("mechanism", ["prv", "rdp", "gdp"])
def test_calibration_without_releases_equals_opacus(mechanism: str) -> None:
    from opacus.accountants.utils import get_noise_multiplier

    from fmaudit.training.privacy import calibrated_noise_multiplier

    privacy = PrivacySpec(target_epsilon=8, delta=1e-5, accountant=mechanism)
    ours = calibrated_noise_multiplier(privacy, sample_rate=1 / 3, steps=90, releases=[])
    theirs = get_noise_multiplier(
        target_epsilon=8, target_delta=1e-5, sample_rate=1 / 3, steps=90, accountant=mechanism
    )
    assert ours == pytest.approx(theirs, rel=0.01)


def test_releases_cost_noise_and_an_unreachable_target_is_refused() -> None:
    from fmaudit.core.errors import ModelError
    from fmaudit.training.privacy import calibrated_noise_multiplier
    from fmaudit.training.records import Release

    privacy = PrivacySpec(target_epsilon=8, delta=1e-5, accountant="rdp")
    alone = calibrated_noise_multiplier(privacy, sample_rate=0.1, steps=100, releases=[])
    counts = [Release("counts", 2.0, 1.0)]
    assert calibrated_noise_multiplier(privacy, sample_rate=0.1, steps=100, releases=counts) > alone * 1.02
    with pytest.raises(ModelError, match="epsilon 8 is out of reach"):
        calibrated_noise_multiplier(privacy, sample_rate=0.1, steps=100, releases=[Release("counts", 0.5, 1.0)])


def test_released_statistics_carry_noise_scaled_to_their_sensitivity() -> None:
    import torch

    from fmaudit.training.privacy import dp_randomness
    from fmaudit.training.releases import noisy_label_counts, noisy_mean

    privacy = PrivacySpec(target_epsilon=8, delta=1e-5, release_noise_multiplier=3.0, feature_norm_bound=2.0)
    randomness = dp_randomness(privacy, 0)
    labels = torch.tensor([0] * 30 + [1] * 70)
    counts = torch.stack([noisy_label_counts(labels, privacy, randomness)[0] for _ in range(2000)])
    assert counts.mean(dim=0).numpy() == pytest.approx([30, 70], abs=0.5)
    assert counts.std(dim=0).numpy() == pytest.approx([3.0, 3.0], rel=0.06)
    vectors = torch.full((10, 4), 1.0)  # norm 2, at the bound: no clipping
    means = torch.stack([noisy_mean(vectors, 10.0, privacy, randomness)[0] for _ in range(2000)])
    assert means.mean().item() == pytest.approx(1.0, abs=0.02)
    assert means.std().item() == pytest.approx(3.0 * 2.0 / 10, rel=0.06)  # multiplier x sensitivity / rows
    far = torch.full((10, 4), 10.0)  # norm 20: clipped to 2 before summing
    clipped = torch.stack([noisy_mean(far, 10.0, privacy, randomness)[0] for _ in range(2000)])
    assert clipped.mean().item() == pytest.approx(1.0, abs=0.02)


def test_folding_the_centring_into_the_head_keeps_every_logit() -> None:
    import copy

    import torch

    from fmaudit.training.feeds import PooledFeed

    torch.manual_seed(0)
    pooled = {i: torch.randn(8) for i in range(5)}
    feed = PooledFeed(pooled, centre=torch.randn(8), scale=3.0)
    head = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(8, 2)).eval()
    trained_on = head((feed.inputs(np.arange(5)))[0])
    folded = copy.deepcopy(head)
    feed.fold(folded)
    torch.testing.assert_close(folded(torch.stack([pooled[i] for i in range(5)])), trained_on)


def test_dp_noise_cannot_be_replayed_unless_the_spec_asks(tiny_bert: Path, tmp_path: Path, spec_dict) -> None:  # type: ignore[no-untyped-def]
    """Two cold runs of one DP spec draw different noise (the report's seed does not regenerate it); with
    reproducible_noise they train the same weights, and the record says which source the noise came from."""

    def weights(name: str, **privacy: Any) -> tuple[str, str]:
        record = _fine_tune(tiny_bert, tmp_path / name, dict(spec_dict), privacy={**PRIVACY, **privacy})
        return record.weights_sha256, record.privacy.noise_source

    first, second = weights("a"), weights("b")
    assert first[1] == second[1] == "os-entropy"
    assert first[0] != second[0]
    seeded = weights("c", reproducible_noise=True), weights("d", reproducible_noise=True)
    assert seeded[0] == seeded[1] and seeded[0][1] == "seeded"


# PRV takes log(1 - q) = log(0) for a release at sample rate 1, which it handles; fmaudit silences it where it
# calls the accountant, and this replay is a call of its own.
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
@pytest.mark.parametrize("mechanism", ["rdp", "prv"])
def test_reported_epsilon_covers_the_releases_and_equals_an_opacus_replay(  # type: ignore[no-untyped-def]
    tiny_bert: Path, tmp_path: Path, spec_dict, mechanism: str
) -> None:
    """Balanced class weights and centred features read the training rows: both are released with noise and
    composed in the accountant, so a fresh accountant replaying releases + steps gives the reported epsilon."""
    from opacus.accountants import create_accountant

    record = _fine_tune(
        tiny_bert,
        tmp_path,
        spec_dict,
        class_weight="balanced",
        centre_features=True,
        feature_scale=3.0,
        privacy={**PRIVACY, "accountant": mechanism, "release_noise_multiplier": 4.0},
    )
    privacy = record.privacy
    assert [r.name.split(" (")[0] for r in privacy.releases] == ["label counts", "mean feature vector"]
    assert privacy.outside_guarantee == []
    accountant = create_accountant(mechanism=mechanism)
    accountant.history = [
        *((r.noise_multiplier, 1.0, 1) for r in privacy.releases),
        (privacy.noise_multiplier, privacy.sample_rate, privacy.steps),
    ]
    assert accountant.history == privacy.history
    assert privacy.epsilon == pytest.approx(accountant.get_epsilon(delta=1e-3), rel=1e-6)
    assert 8 - 0.02 <= privacy.epsilon <= 8
    accountant.history = accountant.history[2:]  # without the releases the same noise would claim less
    assert accountant.get_epsilon(delta=1e-3) < privacy.epsilon


@pytest.mark.filterwarnings("ignore:GDP accounting is experimental")  # Opacus's own caveat, the point here
@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"class_weight": "balanced"}, "class_weight: balanced"),
        ({"centre_features": True, "train_layers": 0}, "centre_features: true"),
    ],
)
def test_the_gdp_accountant_is_refused_where_it_would_compose_releases(changes: dict[str, Any], named: str) -> None:
    """Opacus's GaussianAccountant reads only the last history entry: with releases composed it would report the
    epsilon of one mechanism (a release, or the steps without the releases)."""
    from opacus.accountants import create_accountant

    from fmaudit.core.errors import ModelError
    from fmaudit.training.privacy import calibrated_noise_multiplier
    from fmaudit.training.records import Release

    accountant = create_accountant(mechanism="gdp")
    accountant.history = [(4.0, 1.0, 1), (1.0, 0.1, 100)]
    alone = create_accountant(mechanism="gdp")
    alone.history = [(1.0, 0.1, 100)]
    assert accountant.get_epsilon(delta=1e-5) == alone.get_epsilon(delta=1e-5)  # the release is not counted
    gdp = {"target_epsilon": 8, "delta": 1e-5, "accountant": "gdp"}
    with pytest.raises(ValidationError, match=f"privacy.accountant: gdp with {named}: .*use accountant: prv"):
        TrainingSpec.model_validate({**changes, "privacy": gdp})
    TrainingSpec.model_validate({"privacy": gdp})  # nothing released before training: one mechanism, accounted
    with pytest.raises(ModelError, match="gdp"):
        calibrated_noise_multiplier(
            PrivacySpec.model_validate(gdp), sample_rate=0.1, steps=100, releases=[Release("counts", 4.0, 1.0)]
        )


@pytest.mark.filterwarnings("ignore:GDP accounting is experimental")
def test_a_gdp_run_without_releases_reports_the_epsilon_of_a_fresh_gdp_accountant(  # type: ignore[no-untyped-def]
    tiny_bert: Path, tmp_path: Path, spec_dict
) -> None:
    """The one accountant valid only for a single repeated mechanism, where nothing is released before training:
    its epsilon is Opacus's GDP accountant replaying the steps, and differs from what PRV says of the same noise."""
    from opacus.accountants import create_accountant

    record = _fine_tune(tiny_bert, tmp_path, spec_dict, privacy={**PRIVACY, "accountant": "gdp"})
    privacy = record.privacy
    assert privacy.accountant == "gdp" and privacy.releases == [] and privacy.outside_guarantee == []
    accountant = create_accountant(mechanism="gdp")
    accountant.history = [(privacy.noise_multiplier, privacy.sample_rate, privacy.steps)]
    assert privacy.history == accountant.history
    assert privacy.epsilon == pytest.approx(accountant.get_epsilon(delta=1e-3), rel=1e-6)
    assert 8 - 0.02 <= privacy.epsilon <= 8
    prv = create_accountant(mechanism="prv")
    prv.history = accountant.history
    assert abs(prv.get_epsilon(delta=1e-3) - privacy.epsilon) > 0.02  # the accountant named is the one used


def test_a_private_tabular_model_lists_its_encoder_outside_the_guarantee(tmp_path: Path, spec_dict) -> None:  # type: ignore[no-untyped-def]
    from fmaudit.data import prepare
    from fmaudit.training.fine_tuning import fine_tune

    spec_dict["data"]["max_rows"] = 80
    data_spec = DataSpec.model_validate(spec_dict["data"])
    record = fine_tune(
        model_spec=ModelSpec(kind="tabular", hidden=[4]),
        base_dir=tmp_path,
        data=prepare(data_spec, base_dir=tmp_path),
        data_spec=data_spec,
        data_sha256="d",
        training=TrainingSpec.model_validate({"epochs": 1, "batch_size": 16, "privacy": PRIVACY}),
        cache_dir=tmp_path / "cache",
        show_progress=False,
    )[1]
    assert record.privacy is not None and len(record.privacy.outside_guarantee) == 1
    assert "tabular encoder" in record.privacy.outside_guarantee[0]


def _privacy_record(**record: Any) -> Any:
    from fmaudit.training.records import PrivacyRecord, Release

    return PrivacyRecord(
        **{
            "target_epsilon": 8.0,
            "epsilon": 7.99,
            "delta": 1e-5,
            "accountant": "prv",
            "noise_multiplier": 2.1,
            "max_grad_norm": 1.0,
            "sample_rate": 1 / 3,
            "expected_batch_size": 233.33,
            "dataset_size": 700,
            "epochs": 30,
            "steps": 90,
            "poisson_sampling": True,
            "secure_mode": False,
            "max_physical_batch_size": 128,
            "grad_sample_mode": "hooks",
            "noise_source": "os-entropy",
            "releases": [Release("label counts (one per class)", 5.0, 1.0)],
            **record,
        }
    )


def _statement(
    *,
    replicas: int = 0,
    reference: Any = None,
    compared: tuple[Any, ...] = (),
    chosen_on: str = "training_rows",
    **record: Any,
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    from fmaudit.families.privacy.statement import statement

    privacy = _privacy_record(**record)
    training = SimpleNamespace(
        privacy=privacy, total_parameters=10, trainable_parameters=2, trained_modules=["head"], trained_elsewhere=False
    )
    spec = SimpleNamespace(
        training=TrainingSpec.model_validate(
            {"seed_replicas": replicas, "privacy": {**PRIVACY, "settings_chosen_on": chosen_on}}
        )
    )
    membership = SimpleNamespace(reference_training=reference) if reference is not None else None
    context = SimpleNamespace(training=training, spec=spec, membership=membership, compared=compared)
    metrics, tables, summary = statement(context)  # type: ignore[arg-type]
    return {m.path: m.value for m in metrics}, summary, dict(tables[0].rows)  # type: ignore[arg-type]


def _opacus_epsilon(history: list[tuple[float, float, int]], delta: float = 1e-5) -> float:
    from opacus.accountants import PRVAccountant

    accountant = PRVAccountant()
    accountant.history = history
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # PRV's log(1 - q) at q = 1 for the releases
        return float(accountant.get_epsilon(delta=delta))


def test_the_statement_names_the_noise_source_the_releases_and_what_lies_outside() -> None:
    values, summary, rows = _statement()
    # The settings were chosen on these rows (the default): one statistic outside ε, counted, not just listed.
    assert values["privacy.replayable_noise"] == 0.0 and values["privacy.unaccounted_statistics"] == 1.0
    assert "OS entropy" in rows["DP noise and batch sampling"]
    assert "label counts" in rows["Released before training, inside ε"]
    assert "hyper-parameters" in rows["Outside the guarantee"] and "NOT A PRIVACY GUARANTEE" not in summary
    assert rows["Dataset size N"] == "700 (released exactly: treated as public)"
    assert "data_sha256, rows_sha256 and cache keys" in rows["Outside the guarantee"]

    values, summary, rows = _statement(chosen_on="public_data")
    assert values["privacy.unaccounted_statistics"] == 0.0
    assert "chosen on public data or defaults, as the spec declares" in rows["Outside the guarantee"]

    values, summary, rows = _statement(noise_source="seeded", outside_guarantee=["the encoder's means"])
    assert values["privacy.replayable_noise"] == 1.0 and values["privacy.unaccounted_statistics"] == 2.0
    assert summary.startswith("NOT A PRIVACY GUARANTEE, for experiments")
    assert "the encoder's means" in rows["Outside the guarantee"] and "Not covered by ε" in summary


def test_the_statement_composes_every_dp_model_the_report_releases() -> None:
    """The audited model, 4 seed replicas (same settings), a DP reference model per model, a sweep model: all
    trained on the same rows and published, so their epsilons compose; the twin has no DP bound at all."""
    audited = _privacy_record()
    single = _opacus_epsilon(audited.history)
    values, _, rows = _statement()
    assert values["privacy.released_epsilon"] == pytest.approx(single, rel=1e-6)
    assert values["privacy.released_without_dp"] == 0.0

    values, _, rows = _statement(replicas=1)
    assert values["privacy.released_epsilon"] == pytest.approx(_opacus_epsilon(audited.history * 2), rel=1e-6)
    # Equal mechanisms compose as one run of their summed steps (checked just above against the entries one by
    # one): five models at ε ≈ 8 compose to about 21.
    values, summary, rows = _statement(replicas=4)
    five = _opacus_epsilon([(5.0, 1.0, 5), (2.1, 1 / 3, 450)])
    assert values["privacy.released_epsilon"] == pytest.approx(five, rel=1e-6) and 20.5 < five < 21.5
    assert (
        "5 DP models (audited model, seed replica 1, seed replica 2, seed replica 3, seed replica 4)"
        in rows["Released by this report"]
    )

    reference = SimpleNamespace(privacy=_privacy_record(noise_multiplier=2.4, sample_rate=0.4, steps=75))
    sweep = _privacy_record(noise_multiplier=4.0, steps=90)
    twin = SimpleNamespace(role="twin", label="twin (no DP)", training=SimpleNamespace(privacy=None))
    point = SimpleNamespace(role="sweep", label="sweep target ε = 2", training=SimpleNamespace(privacy=sweep))
    values, summary, rows = _statement(replicas=1, reference=reference, compared=(twin, point))
    everything = [(5.0, 1.0, 5), (2.1, 1 / 3, 180), (2.4, 0.4, 150), (4.0, 1 / 3, 90)]  # the five, merged by hand
    assert values["privacy.released_epsilon"] == pytest.approx(_opacus_epsilon(everything), rel=1e-6)
    assert values["privacy.released_without_dp"] == 2.0  # the twin and the twin's reference model
    released = rows["Released by this report"]
    assert "5 DP models" in released and "2 trained without DP (twin (no DP), reference model of the twin" in released
    assert "the report as a whole has no DP bound" in released and "Released by this report" in summary


def test_secure_and_reproducible_noise_exclude_each_other() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="exclude each other"):
        PrivacySpec(target_epsilon=8, delta=1e-5, secure_mode=True, reproducible_noise=True)


def test_centring_is_refused_when_the_encoder_trains() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="centre_features needs head-only training"):
        TrainingSpec(centre_features=True, train_layers=2)
    assert TrainingSpec(centre_features=True, train_layers=0).centre_features


def test_secure_mode_without_torchcsprng_is_an_error_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from fmaudit.core.errors import ModelError
    from fmaudit.training.privacy import dp_randomness

    monkeypatch.setitem(sys.modules, "torchcsprng", None)  # import fails as on a machine without it
    with pytest.raises(ModelError, match="training.privacy.secure_mode: needs torchcsprng"):
        dp_randomness(PrivacySpec(target_epsilon=8, delta=1e-5, secure_mode=True), 0)
