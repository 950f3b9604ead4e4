"""Realism: one retinotopic rule for every mouse, non-stimulus activity, activity profiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brainenc.insilico import MOUSE_PRESETS, PROFILE_PRESETS, session_config, truth_path
from brainenc.insilico.activity import (
    LATENT_TAU_RANGE_S,
    baseline_drift,
    draw_excitability,
    ou_processes,
)
from brainenc.insilico.behavior import Behavior
from brainenc.insilico.population import (
    FOV_PX,
    FOV_UM,
    MAGNIFICATION_DEG_PER_UM,
    PLACEMENT_JITTER_DEG,
    RATE_SATURATION,
    draw_population,
    firing_rates,
)
from brainenc.insilico.session import mouse_population

V1_AXES = np.array([[1.0, 0.0], [0.0, -1.0]])  # d(azimuth, altitude) / d(x, y): lateral-medial


def _retinotopic_fit(mouse: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slope (2, 2) deg/um and intercept (2,) deg of RF centres on ROI offsets; RFs (N, 2)."""
    rois, pop = mouse_population(session_config(mouse, "full", seed))
    offset_um = rois.centres * (FOV_UM / FOV_PX) - FOV_UM / 2
    rf = np.stack([pop.rf_azimuth, pop.rf_altitude], axis=1)
    fit, *_ = np.linalg.lstsq(np.c_[offset_um, np.ones(len(rf))], rf, rcond=None)
    return fit[:2].T, fit[2], rf


@pytest.mark.parametrize("seed", [0, 5])
def test_every_mouse_follows_one_retinotopic_rule_centred_on_the_monitor(seed: int) -> None:
    intercepts = []
    for mouse in MOUSE_PRESETS:
        slope, intercept, rf = _retinotopic_fit(mouse, seed)
        # same magnification and orientation in every mouse (no per-mouse rotation)
        np.testing.assert_allclose(slope, MAGNIFICATION_DEG_PER_UM * V1_AXES, atol=0.008)
        assert np.hypot(*intercept) < 6.0  # the field of view's centre looks near (0, 0)
        assert np.hypot(*rf.mean(axis=0)) < 6.0
        intercepts.append(intercept)
    spread = max(np.hypot(*(a - b)) for a in intercepts for b in intercepts)
    assert spread < 2 * np.sqrt(2) * PLACEMENT_JITTER_DEG + 2.0


def test_placement_jitter_is_a_few_degrees_and_seeded() -> None:
    centres = [mouse_population(session_config(m, "test", s))[1] for m in "ABC" for s in (0, 1)]
    offsets = np.array([pop.retinotopy_centre for pop in centres])
    assert np.abs(offsets).max() <= PLACEMENT_JITTER_DEG
    assert len({tuple(o) for o in offsets}) == len(offsets)  # per mouse and seed
    again = mouse_population(session_config("B", "test", 1))[1]
    np.testing.assert_array_equal(again.retinotopy_centre, centres[3].retinotopy_centre)


def _behavior(n: int, rng: np.random.Generator) -> Behavior:
    running = np.clip(rng.normal(5.0, 5.0, n), 0, None)
    pupil = np.exp(np.log(2000.0) + 0.2 * ou_processes(n, np.array([240.0]), rng)[0])
    return Behavior(running, pupil, np.zeros((n, 2)))


def test_clean_profile_is_the_earlier_model_without_non_stimulus_activity() -> None:
    clean = session_config("A", "test", profile="clean")
    settings = ("noise_std", "responsive_fraction", "spontaneous_rate_hz", "latent_sd", "drift_sd")
    assert tuple(getattr(clean, name) for name in settings) == (0.1, 1.0, 0.0, 0.0, 0.0)
    assert session_config("A", "test") == session_config("A", "test", profile="realistic")

    rng = np.random.default_rng(11)
    n, t = 12, 600
    pop = draw_population(rng.uniform(0, 512, (n, 2)), rng, clean.responsive_fraction)
    assert pop.responsive.all()
    behavior = _behavior(t, rng)
    projections = rng.standard_normal((t, 2 * n)).astype(np.float32)
    excitability, _ = draw_excitability(
        n,
        np.zeros(t),
        30.0,
        rng,
        spontaneous_rate_hz=clean.spontaneous_rate_hz,
        latent_sd=clean.latent_sd,
        latent_shared_fraction=clean.latent_shared_fraction,
        latent_count=clean.latent_count,
        latent_behavior_correlation=clean.latent_behavior_correlation,
    )
    movie = np.ones(t, dtype=bool)
    rates, expected, _ = firing_rates(projections, pop, behavior, movie, excitability)
    reference, _, _ = firing_rates(projections, pop, behavior, movie, None)
    np.testing.assert_array_equal(rates, reference)
    np.testing.assert_array_equal(expected, reference)
    assert baseline_drift(n, t, 30.0, rng, clean.drift_sd) is None


def test_rates_follow_the_documented_formula() -> None:
    rng = np.random.default_rng(12)
    n, t = 10, 900
    pop = draw_population(rng.uniform(0, 512, (n, 2)), rng, 0.5)
    behavior = _behavior(t, rng)
    log_area = np.log(behavior.pupil_area)
    pupil = (log_area - log_area.mean()) / log_area.std()
    excitability, _ = draw_excitability(
        n,
        pupil,
        30.0,
        rng,
        spontaneous_rate_hz=2.0,
        latent_sd=0.8,
        latent_shared_fraction=0.3,
        latent_count=3,
        latent_behavior_correlation=0.5,
    )
    projections = rng.standard_normal((t, 2 * n)).astype(np.float32)
    rates, expected, scale = firing_rates(
        projections, pop, behavior, np.ones(t, dtype=bool), excitability
    )
    # the visual term G r_max w S(.): the rates without non-stimulus activity minus the rest
    clean, _, _ = firing_rates(projections, pop, behavior, np.ones(t, dtype=bool), None)
    h = np.tanh(np.maximum(behavior.running_speed, 0) / 10.0)[None, :]
    other = pop.alpha_run[:, None] * pop.rate_max[:, None] * h + pop.rate_base[:, None]
    evoked = clean - other
    assert np.abs(evoked[~pop.responsive]).max() < 1e-9  # w = 0: no visual response
    gain = np.exp(pop.beta_run[:, None] * h + pop.beta_pupil[:, None] * pupil[None, :])
    ceiling = RATE_SATURATION * gain * pop.rate_max[:, None]
    assert (evoked > -1e-9).all() and (evoked <= ceiling + 1e-9).all()
    assert (evoked[pop.responsive] > 0).all()
    spontaneous = evoked + excitability.spontaneous_rate[:, None]
    np.testing.assert_allclose(rates, spontaneous * excitability.gain + other, rtol=1e-9)
    np.testing.assert_allclose(
        expected, spontaneous * excitability.expected_gain + other, rtol=1e-9
    )
    assert scale.shape == (n,)


def test_excitability_has_mean_one_and_is_mostly_unexplained_by_behaviour() -> None:
    rng = np.random.default_rng(13)
    n, t, rate = 40, 30 * 900, 30.0
    pupil = ou_processes(t, np.array([8.0 * rate]), rng)[0]
    pupil = (pupil - pupil.mean()) / pupil.std()
    sigma, shared, rho = 0.5, 0.3, 0.5
    excitability, latents = draw_excitability(
        n,
        pupil,
        rate,
        rng,
        spontaneous_rate_hz=2.0,
        latent_sd=sigma,
        latent_shared_fraction=shared,
        latent_count=6,
        latent_behavior_correlation=rho,
    )
    assert excitability.gain.shape == excitability.expected_gain.shape == (n, t)
    assert abs(excitability.gain.mean() - 1.0) < 0.05  # mean-one gain
    np.testing.assert_allclose(np.log(excitability.gain).std(axis=1), sigma, rtol=0.2)
    explained = np.log(excitability.expected_gain).var(axis=1)
    assert (explained <= shared * rho**2 * sigma**2 * 1.2).all()  # behaviour explains little
    assert abs((excitability.gain / excitability.expected_gain).mean() - 1.0) < 0.05
    np.testing.assert_allclose(np.linalg.norm(latents.loadings, axis=1), 1.0)
    assert latents.shared.shape == (6, t) and latents.shared.dtype == np.float32
    low, high = LATENT_TAU_RANGE_S
    assert (latents.shared_tau_s >= low).all() and (latents.private_tau_s <= high).all()
    assert 1.0 < np.median(latents.spontaneous_rate) < 4.0
    first = np.corrcoef(latents.shared[0], pupil)[0, 1]
    assert 0.35 < first < 0.65  # the first shared latent follows arousal at rho


def test_baseline_drift_is_slow_and_at_the_configured_level() -> None:
    drift = baseline_drift(30, 30 * 1800, 30.0, np.random.default_rng(14), 0.05)
    assert drift is not None and drift.shape == (30, 30 * 1800)
    assert 0.03 < drift.std() < 0.07
    lag_1s = np.mean([np.corrcoef(row[:-30], row[30:])[0, 1] for row in drift])
    assert lag_1s > 0.98  # minutes, not seconds


@pytest.fixture(scope="module")
def clean_session(make_insilico_session) -> Path:
    return make_insilico_session("clean_profile", **PROFILE_PRESETS["clean"])


def test_realistic_sessions_are_noisier_and_save_their_latents(
    insilico_session: Path, clean_session: Path
) -> None:
    realistic, clean = np.load(truth_path(insilico_session)), np.load(truth_path(clean_session))
    n, t = realistic["truth"].shape
    latent_count = session_config("A", "test").latent_count
    assert realistic["activity_loadings"].shape == (n, latent_count)
    assert realistic["activity_shared"].shape[1] == t
    assert realistic["population_responsive"].dtype == bool
    assert clean["population_responsive"].all()
    assert not np.any(clean["activity_shared"])  # no excitability fluctuations
    r_realistic = np.nanmean(realistic["recorded_truth_correlation"])
    r_clean = np.nanmean(clean["recorded_truth_correlation"])
    assert r_clean > r_realistic + 0.2
    # every draw of the stimulus model is shared: the RFs and behaviour are the same
    for name in ("population_rf_azimuth", "latent_running_speed", "optics_baseline"):
        np.testing.assert_array_equal(realistic[name], clean[name], err_msg=name)


@pytest.mark.parametrize("profile", sorted(PROFILE_PRESETS))
def test_profiles_set_every_activity_setting(profile: str) -> None:
    expected = {
        "noise_std",
        "responsive_fraction",
        "spontaneous_rate_hz",
        "latent_sd",
        "latent_shared_fraction",
        "latent_count",
        "latent_behavior_correlation",
        "drift_sd",
    }
    assert set(PROFILE_PRESETS[profile]) == expected
    config = session_config("C", "test", 2, profile, noise_std=0.2)
    assert config.noise_std == 0.2  # explicit overrides win over the profile
    for name in expected - {"noise_std"}:
        assert getattr(config, name) == PROFILE_PRESETS[profile][name]


def _data_node(*overrides: str):
    from hydra import compose, initialize_config_dir

    from brainenc.conf import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("build", overrides=["data=insilico_test", "paths.root_dir=/data", *overrides])
    return cfg.data.root, cfg.data.build.cache_dir


def test_dataset_and_cache_folders_name_the_profile_and_the_seed() -> None:
    from brainenc.data.config import BuildConfig
    from brainenc.data.errors import ConfigError as BuildConfigError

    root, cache = _data_node()
    assert root == "/data/outputs/datasets/insilico_test_realistic_seed0_seed"
    assert cache.endswith("/insilico_test_realistic_seed0")
    folders = {
        _data_node(*extra)
        for extra in [(), ("data.build.insilico.profile=clean",), ("data.build.insilico.seed=3",)]
    }
    assert len({root for root, _ in folders}) == len({cache for _, cache in folders}) == 3
    with pytest.raises(BuildConfigError, match="data.build.insilico.profile must be one of"):
        BuildConfig.from_mapping({"insilico": {"profile": "noisy"}})


def test_the_data_builder_forwards_the_profile(tmp_path: Path, monkeypatch) -> None:
    import brainenc.insilico as insilico
    from brainenc.data.config import BuildConfig
    from brainenc.data.sources import ensure_insilico_cache

    written = []
    monkeypatch.setattr(insilico, "write_cache", lambda folder, mice: written.extend(mice))
    settings = {"insilico": {"scale": "test", "seed": 2, "mice": ["A", "C"], "profile": "clean"}}
    ensure_insilico_cache(tmp_path, BuildConfig.from_mapping(settings))
    assert [c.mouse_id for c in written] == ["A", "C"]
    assert all(c.seed == 2 and c.latent_sd == 0.0 and c.responsive_fraction == 1 for c in written)
