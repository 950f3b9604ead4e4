"""Settings of the in-silico mouse: presets, overrides and clear errors for bad values."""

from __future__ import annotations

import pytest

from brainenc.insilico import MOUSE_PRESETS, SessionConfig, session_config
from brainenc.insilico import SessionConfigError as ConfigError
from brainenc.insilico.__main__ import build_configs
from brainenc.insilico.presets import parse_override
from brainenc.insilico.schedule import required_frames


def test_full_preset_is_the_real_session_of_mouse_a() -> None:
    c = session_config("A")
    assert c == SessionConfig()
    assert (c.experiment_id, c.n_neurons, c.imaging_depth_um) == (501729039, 227, 275)
    assert (c.natural_movie_one_frames, c.natural_movie_three_frames) == (900, 3600)
    assert (c.template_height, c.template_width) == (304, 608)
    assert c.genotype == "Rorb-IRES2-Cre/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt"
    assert c.specimen_name == "Rorb-IRES2-Cre;Camk2a-tTA;Ai93-222431"
    assert c.session_start.startswith("2016-02-05")
    assert c.age_days == 105
    assert 113_000 < c.n_frames < 118_000  # about an hour at ~30 Hz, like the real session


def test_test_preset_is_tiny_and_keeps_ten_repeats() -> None:
    c = session_config("A", "test")
    assert (c.natural_movie_one_frames, c.natural_movie_three_frames) == (280, 420)
    assert (c.template_height, c.template_width) == (38, 76)
    assert c.natural_movie_one_repeats == c.natural_movie_three_repeats == 10
    assert c.n_neurons == 20
    assert c.n_frames < 10_000


def test_demo_preset_has_small_frames_and_all_repeats() -> None:
    c = session_config("A", "demo")
    assert (c.template_height, c.template_width) == (76, 152)
    assert c.natural_movie_one_frames == 900
    assert c.natural_movie_one_repeats == c.natural_movie_three_repeats == 10


def test_mice_have_distinct_ids_and_neuron_counts() -> None:
    configs = [session_config(m, "test") for m in MOUSE_PRESETS]
    for attribute in ("experiment_id", "ophys_session_id", "container_id", "n_neurons"):
        values = [getattr(c, attribute) for c in configs]
        assert len(set(values)) == len(values), attribute


def test_explicit_overrides_win_over_presets() -> None:
    c = session_config("B", "test", seed=7, n_neurons=5, natural_movie_one_frames=140)
    assert (c.n_neurons, c.natural_movie_one_frames, c.seed, c.mouse_id) == (5, 140, 7, "B")


def test_session_length_is_the_sum_of_its_slots_unless_given() -> None:
    c = session_config("A", "test")
    assert c.n_frames == required_frames(c)
    longer = session_config("A", "test", session_frames=c.n_frames + 100)
    assert longer.n_frames == c.n_frames + 100


@pytest.mark.parametrize(
    ("overrides", "setting", "expected"),
    [
        ({"natural_movie_one_repeats": 0}, "natural_movie_one_repeats", "at least 1"),
        ({"natural_movie_three_repeats": 1}, "natural_movie_three_repeats", "two epochs"),
        ({"noise_std": -0.1}, "noise_std", "non-negative"),
        ({"n_neurons": 0}, "n_neurons", "1..1000"),
        ({"template_width": 4}, "template_width", "at least 8"),
        ({"session_frames": 5_000}, "session_frames", "to hold every stimulus epoch"),
        ({"epoch_gap_frames": 39}, "epoch_gap_frames", "more than 39"),
        ({"nan_neurons": (25,)}, "nan_neurons", "0..19"),
        ({"truncate_last_repeat": "natural_movie_two"}, "truncate_last_repeat", "None or one"),
        ({"dff_length_offset": 2}, "dff_length_offset", "-1, 0 or 1"),
        (
            {"stimulus_code": True, "natural_movie_three_frames": 12_000},
            "natural_movie_three",
            "stimulus_code=True",
        ),
        ({"date_of_birth": "2016-03-01"}, "date_of_birth", "before session_start"),
        ({"session_start": "yesterday"}, "session_start", "ISO dates"),
        ({"n_neurons": "20"}, "n_neurons", "type int"),
        ({"noise_std": float("nan")}, "noise_std", "finite"),
        ({"nan_neurons": (1.5,)}, "nan_neurons", "integer neuron indices"),
        ({"responsive_fraction": 1.5}, "responsive_fraction", "in [0, 1]"),
        ({"spontaneous_rate_hz": -1.0}, "spontaneous_rate_hz", "non-negative rate in Hz"),
        ({"latent_sd": 5.0}, "latent_sd", "natural-log units"),
        ({"latent_sd": float("inf")}, "latent_sd", "in [0, 3.0]"),
        ({"latent_shared_fraction": -0.1}, "latent_shared_fraction", "in [0, 1]"),
        ({"latent_count": 0}, "latent_count", "1..32"),
        ({"latent_count": 2.0}, "latent_count", "type int"),
        ({"latent_behavior_correlation": 1.0}, "latent_behavior_correlation", "in [0, 1)"),
        ({"drift_sd": 0.5}, "drift_sd", "fraction of the baseline fluorescence"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_settings_fail_at_config_time_naming_the_setting(
    overrides: dict, setting: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=setting) as error:
        session_config("A", "test", **overrides)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: session_config("A", "huge"), "unknown scale 'huge'"),
        (lambda: session_config("Z", "test"), "unknown mouse 'Z'"),
        (lambda: session_config("A", "test", profile="noisy"), "unknown profile 'noisy'"),
        (lambda: session_config("A", "test", neurons=3), "unknown setting(s) ['neurons']"),
        (lambda: parse_override("noise_std"), "expected KEY=VALUE"),
        (lambda: parse_override("eye_tracking=maybe"), "eye_tracking expects"),
    ],
    ids=["scale", "mouse", "profile", "field", "override-syntax", "override-type"],
)
def test_unknown_names_get_clear_errors(call, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        call()
    assert expected in str(error.value)


def test_command_line_overrides_are_typed_and_per_mouse() -> None:
    configs = build_configs(
        "test",
        3,
        ["A", "B"],
        ["noise_std=0.3", "B.eye_tracking=false", "nan_neurons=1,2", "A.noise_std=0.05"],
    )
    a, b = configs
    assert (a.noise_std, b.noise_std) == (0.05, 0.3)
    assert (a.eye_tracking, b.eye_tracking) == (True, False)
    assert a.nan_neurons == b.nan_neurons == (1, 2)
    assert a.seed == b.seed == 3
    assert parse_override("session_frames=none") == ("session_frames", None)
    with pytest.raises(ConfigError, match="names mouse C"):
        build_configs("test", 0, ["A"], ["C.noise_std=1"])
    clean = build_configs("test", 3, ["A"], ["A.drift_sd=0.01"], profile="clean")[0]
    assert (clean.latent_sd, clean.responsive_fraction, clean.drift_sd) == (0.0, 1.0, 0.01)
