"""Named mice, size presets and activity profiles, and building a `SessionConfig` from them.

`session_config(mouse, scale, seed, profile, **overrides)` merges a mouse preset (identity,
metadata, neuron count), a size preset (``full``, ``demo``, ``test``), an activity profile
(``realistic``, ``clean``) and explicit overrides; `parse_override` turns a command-line
``KEY=VALUE`` into a typed field value.

Profiles (`PROFILE_PRESETS`) set the recording noise and the non-stimulus activity (units and
meaning in `SessionConfig` and `activity`):

==============================  =========  =====  ===========================================
setting                         realistic  clean  unit / source of the value
==============================  =========  =====  ===========================================
noise_std                       0.1        0.1    dF/F (fraction of F0), white recording noise
responsive_fraction             0.4        1.0    fraction; real V1: a third to a half of the
                                                  neurons respond to natural movies
spontaneous_rate_hz             2.0        0      Hz, median (log-normal, sd 0.5 in log units)
latent_sd                       1.45       0      natural-log units; calibrated (see below)
latent_shared_fraction          0.3        0.3    fraction of the excitability variance
latent_count                    8          8      shared latent processes (0.5-5 s)
latent_behavior_correlation     0.5        0.5    correlation of latent 0 with log pupil area
drift_sd                        0.05       0      fraction of F0, time constant 3 min
==============================  =========  =====  ===========================================

* ``realistic`` (default, = the `SessionConfig` defaults): calibrated against the real session
  501729039, whose trial-average baseline (mean single-trial correlation of the mean of the 7
  training repeats with each of the 2 test repeats, last 116 frames of each 140-frame clip) is
  0.022-0.0235. With the other settings fixed from real-data facts, ``latent_sd`` was set so that
  demo-scale mouse A gives about 0.022 over seeds (``benchmarks/insilico_calibration.py``; the
  table is in docs/design.md). Only real-data figures were used, never a model's score.
* ``clean``: the earlier, about ten times cleaner generative model (trial-average baseline ~0.23
  at demo scale): every neuron visually responsive, no spontaneous rate, no excitability
  fluctuations, no drift, the same recording noise.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from brainenc.insilico.session_config import SessionConfig, SessionConfigError

MOUSE_PRESETS: dict[str, dict[str, Any]] = {
    # Experiment ids are real ids of allensdk's ``ophys_experiment_session_id_map`` (with their
    # real ophys session ids) so that ``require_eye_tracking=True`` works offline without patching.
    # All data in the files are simulated; the container ids (9000000xx) are synthetic.
    "A": {},
    "B": {
        "experiment_id": 501773889,
        "ophys_session_id": 610491695,
        "container_id": 900000002,
        "genotype": "Cux2-CreERT2/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt",
        "imaging_depth_um": 175,
        "session_start": "2016-02-09T14:03:55",
        "date_of_birth": "2015-11-02",
        "sex": "female",
        "donor_name": "224714",
        "n_neurons": 198,
    },
    "C": {
        "experiment_id": 501794235,
        "ophys_session_id": 610491716,
        "container_id": 900000003,
        "imaging_depth_um": 275,
        "session_start": "2016-02-11T10:27:08",
        "date_of_birth": "2015-10-29",
        "sex": "male",
        "donor_name": "225036",
        "n_neurons": 254,
    },
}

PROFILE_PRESETS: dict[str, dict[str, Any]] = {
    "realistic": {
        "noise_std": 0.1,
        "responsive_fraction": 0.4,
        "spontaneous_rate_hz": 2.0,
        "latent_sd": 1.45,
        "latent_shared_fraction": 0.3,
        "latent_count": 8,
        "latent_behavior_correlation": 0.5,
        "drift_sd": 0.05,
    },
    "clean": {
        "noise_std": 0.1,
        "responsive_fraction": 1.0,
        "spontaneous_rate_hz": 0.0,
        "latent_sd": 0.0,
        "latent_shared_fraction": 0.3,
        "latent_count": 8,
        "latent_behavior_correlation": 0.5,
        "drift_sd": 0.0,
    },
}
DEFAULT_PROFILE = "realistic"

SCALE_PRESETS: dict[str, dict[str, Any]] = {
    "full": {},
    "demo": {
        "template_height": 76,
        "template_width": 152,
        "natural_movie_three_frames": 1800,
        "drifting_grating_trials": 60,
        "spontaneous_frames": 1800,
        "epoch_gap_frames": 300,
        "lead_frames": 300,
        "tail_frames": 150,
    },
    "test": {
        "template_height": 38,
        "template_width": 76,
        "natural_movie_one_frames": 280,
        "natural_movie_three_frames": 420,
        "drifting_grating_trials": 9,
        "spontaneous_frames": 300,
        "epoch_gap_frames": 60,
        "lead_frames": 30,
        "tail_frames": 30,
        "neuron_fraction": 0.09,
    },
}


def session_config(
    mouse: str = "A",
    scale: str = "full",
    seed: int = 0,
    profile: str = DEFAULT_PROFILE,
    **overrides: Any,
) -> SessionConfig:
    """Build the config of one mouse at one size preset and profile, with overrides on top.

    Parameters
    ----------
    mouse
        Key of `MOUSE_PRESETS` (``"A"``, ``"B"``, ``"C"``).
    scale
        Key of `SCALE_PRESETS`: ``"full"`` (real sizes), ``"demo"`` (small frames, CPU demo) or
        ``"test"`` (tiny, for unit tests; neuron counts scaled by 0.09).
    seed
        Seed of every random choice; the same seed gives byte-identical arrays.
    profile
        Key of `PROFILE_PRESETS`: ``"realistic"`` (calibrated non-stimulus activity) or
        ``"clean"`` (no non-stimulus activity, every neuron visually responsive).
    overrides
        Any `SessionConfig` field, e.g. ``n_neurons=50`` or ``eye_tracking=False``.
    """
    if mouse not in MOUSE_PRESETS:
        raise SessionConfigError(
            f"unknown mouse {mouse!r}: expected one of {sorted(MOUSE_PRESETS)}; "
            "pass a known mouse or build SessionConfig(...) yourself"
        )
    if scale not in SCALE_PRESETS:
        raise SessionConfigError(
            f"unknown scale {scale!r}: expected one of {sorted(SCALE_PRESETS)}"
        )
    if profile not in PROFILE_PRESETS:
        raise SessionConfigError(
            f"unknown profile {profile!r}: expected one of {sorted(PROFILE_PRESETS)} "
            "(the activity profile of the simulated mice)"
        )
    unknown = set(overrides) - {f.name for f in dataclasses.fields(SessionConfig)}
    if unknown:
        raise SessionConfigError(
            f"unknown setting(s) {sorted(unknown)}: expected SessionConfig fields "
            f"{[f.name for f in dataclasses.fields(SessionConfig)]}"
        )
    values: dict[str, Any] = {"mouse_id": mouse, **MOUSE_PRESETS[mouse], "seed": seed}
    sizes = dict(SCALE_PRESETS[scale])
    fraction = sizes.pop("neuron_fraction", 1.0)
    values["n_neurons"] = max(1, round(values.get("n_neurons", SessionConfig.n_neurons) * fraction))
    values.update(sizes)
    values.update(PROFILE_PRESETS[profile])
    values.update(overrides)
    return SessionConfig(**values)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``KEY=VALUE`` command-line override into a typed `SessionConfig` field value."""
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    hints = typing.get_type_hints(SessionConfig)
    if not sep or key not in hints:
        raise SessionConfigError(
            f"bad override {text!r}: expected KEY=VALUE with KEY one of {sorted(hints)}"
        )
    hint = str(hints[key])
    raw = raw.strip()
    try:
        if raw.lower() in {"none", "null"} and "None" in hint:
            return key, None
        if "bool" in hint:
            if raw.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(raw)
            return key, raw.lower() in {"true", "1", "yes"}
        if "tuple" in hint:
            return key, tuple(int(v) for v in raw.split(",") if v.strip())
        if "float" in hint:
            return key, float(raw)
        if "int" in hint:
            return key, int(raw)
    except ValueError:
        raise SessionConfigError(
            f"bad override {text!r}: {key} expects a value of type {hint}"
        ) from None
    return key, raw
