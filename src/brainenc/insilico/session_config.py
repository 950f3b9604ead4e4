"""Settings of one simulated ``three_session_A`` session and their validation.

A `SessionConfig` is complete and frozen; every setting is checked when it is built, so bad values
fail before anything is written. Start from the presets with `presets.session_config`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any

from brainenc.insilico.schedule import ALLENSDK_EPOCH_GAP_THRESHOLD, required_frames

MOVIES = ("natural_movie_one", "natural_movie_three")
STIMULUS_CODE_MAX_FRAMES = 9_999
STIMULUS_CODE_MAX_REPEATS = 99
MAX_NEURONS = 1_000


class SessionConfigError(ValueError):
    """A setting of the in-silico mouse is out of range or inconsistent."""


@dataclass(frozen=True)
class SessionConfig:
    """Every setting of one simulated session (one mouse, one ``three_session_A`` recording).

    Sizes are in frames of the 2-photon clock (~30 Hz) unless named otherwise. The defaults are the
    ``full`` preset of mouse ``A``; use `session_config` to start from another preset.

    Attributes
    ----------
    experiment_id, ophys_session_id, container_id
        Allen ids; the eye-tracking filter maps experiment -> session id (see `cache`).
    natural_movie_*_frames, template_height, template_width
        Movie length in movie frames and template size in pixels.
    natural_movie_*_repeats
        Repeats per movie; natural_movie_three's are split over two epochs.
    drifting_grating_trials
        Total over the three drifting-grating epochs (real: 628).
    epoch_gap_frames, lead_frames, tail_frames
        Grey between epochs (> 39, allensdk's threshold), before the first and after the last.
    session_frames
        Total 2p frames; None = exactly what the epochs need.
    noise_std
        Recording-noise sd in dF/F units (fraction of the baseline fluorescence); white noise.
    responsive_fraction
        Fraction of neurons (in [0, 1]) that respond to visual stimuli; the others carry only
        non-stimulus activity and behavioural modulation (`population`).
    spontaneous_rate_hz
        Median spontaneous firing rate in Hz (>= 0), log-normal across neurons (`activity`).
    latent_sd
        sd (natural-log units, >= 0) of the excitability fluctuations that multiply each neuron's
        rate (`activity`); 0 turns them off.
    latent_shared_fraction
        Fraction (in [0, 1]) of the excitability variance shared through the latent processes.
    latent_count
        Number of shared latent processes (>= 1).
    latent_behavior_correlation
        Correlation (in [0, 1)) of the first shared latent with the z-scored log pupil area.
    drift_sd
        sd of the slow baseline drift (time constant 3 min) as a fraction of the baseline
        fluorescence (in [0, 0.3]).
    poisson_spikes
        Calcium from Poisson spike counts (True) or from the expected rates (False).
    stimulus_code
        Corrected fluorescence of every neuron = code of the movie frame on screen (exact, no
        noise; see `fluorescence.stimulus_code`).
    eye_tracking, demixed_signal
        False omits ``EyeTracking``/``PupilTracking`` or ``imaging_plane_1_demixed_signal``.
    nan_neurons
        Indices (file order) of neurons whose recorded traces are all NaN.
    truncate_last_repeat
        Movie whose last repeat loses its second half in the stimulus table (allensdk then raises).
    dff_length_offset
        dF/F stored -1, 0 or +1 samples longer than the fluorescence traces.
    """

    # identity and metadata (as in the NWB file and ``ophys_experiments.json``)
    mouse_id: str = "A"
    experiment_id: int = 501729039
    ophys_session_id: int = 610491688
    container_id: int = 900000001
    genotype: str = "Rorb-IRES2-Cre/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt"
    imaging_depth_um: int = 275
    targeted_structure: str = "VISp"
    session_start: str = "2016-02-05T09:41:27"
    date_of_birth: str = "2015-10-23"
    sex: str = "male"
    donor_name: str = "222431"
    n_neurons: int = 227
    # sizes
    natural_movie_one_frames: int = 900
    natural_movie_three_frames: int = 3600
    template_height: int = 304
    template_width: int = 608
    natural_movie_one_repeats: int = 10
    natural_movie_three_repeats: int = 10
    drifting_grating_trials: int = 628
    spontaneous_frames: int = 8930
    epoch_gap_frames: int = 905
    lead_frames: int = 735
    tail_frames: int = 240
    session_frames: int | None = None
    # generative model (defaults: the ``realistic`` profile, see `presets.PROFILE_PRESETS`)
    seed: int = 0
    noise_std: float = 0.1
    responsive_fraction: float = 0.4
    spontaneous_rate_hz: float = 2.0
    latent_sd: float = 1.45
    latent_shared_fraction: float = 0.3
    latent_count: int = 8
    latent_behavior_correlation: float = 0.5
    drift_sd: float = 0.05
    poisson_spikes: bool = True
    stimulus_code: bool = False
    # fault injection
    eye_tracking: bool = True
    demixed_signal: bool = True
    nan_neurons: tuple[int, ...] = field(default_factory=tuple)
    truncate_last_repeat: str | None = None
    dff_length_offset: int = 0

    def __post_init__(self) -> None:
        indices = tuple(self.nan_neurons)
        _require(
            all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in indices),
            "nan_neurons",
            "integer neuron indices",
            self.nan_neurons,
        )
        object.__setattr__(self, "nan_neurons", tuple(int(i) for i in indices))
        _validate(self)

    @property
    def specimen_name(self) -> str:
        """Allen-style specimen name, e.g. ``"Rorb-IRES2-Cre;Camk2a-tTA;Ai93-222431"``."""
        lines = [re.sub(r"\(.*?\)", "", part.split("/")[0]) for part in self.genotype.split(";")]
        return ";".join(lines) + f"-{self.donor_name}"

    @property
    def age_days(self) -> int:
        """Age of the mouse on the day of the session."""
        start = dt.datetime.fromisoformat(self.session_start).date()
        return (start - dt.date.fromisoformat(self.date_of_birth)).days

    @property
    def n_frames(self) -> int:
        """Number of 2-photon frames of the session."""
        return self.session_frames if self.session_frames is not None else required_frames(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dictionary of every setting."""
        out = dataclasses.asdict(self)
        out["nan_neurons"] = list(self.nan_neurons)
        return out


def _require(ok: bool, setting: str, expected: str, found: Any, fix: str = "") -> None:
    if not ok:
        message = f"SessionConfig.{setting}: expected {expected}, found {found!r}"
        raise SessionConfigError(message + (f"; {fix}" if fix else ""))


_SCALAR_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _check_types(c: SessionConfig) -> None:
    for f in dataclasses.fields(SessionConfig):
        value, hint = getattr(c, f.name), str(f.type)
        if value is None and "None" in hint:
            continue
        if hint.startswith("tuple"):
            continue  # nan_neurons, checked and normalised in __post_init__
        kind = hint.split(" |")[0]
        allowed = _SCALAR_TYPES[kind]
        ok = isinstance(value, allowed) and (kind == "bool" or not isinstance(value, bool))
        _require(ok, f.name, f"a value of type {kind}", value)


def _validate(c: SessionConfig) -> None:
    _check_types(c)
    _require(
        bool(re.fullmatch(r"[A-Za-z0-9_-]+", c.mouse_id)),
        "mouse_id",
        "letters, digits, '_' or '-'",
        c.mouse_id,
    )
    for name in ("experiment_id", "ophys_session_id", "container_id"):
        _require(getattr(c, name) > 0, name, "a positive integer", getattr(c, name))
    _require(";" in c.genotype, "genotype", "'driver/wt;...;reporter/wt' lines", c.genotype)
    _require(c.imaging_depth_um > 0, "imaging_depth_um", "a positive depth", c.imaging_depth_um)
    try:
        age = c.age_days
    except ValueError as error:
        raise SessionConfigError(
            f"SessionConfig.session_start / date_of_birth: expected ISO dates, found "
            f"{c.session_start!r} / {c.date_of_birth!r} ({error})"
        ) from None
    _require(age > 0, "date_of_birth", "a date before session_start", c.date_of_birth)
    _require(
        1 <= c.n_neurons <= MAX_NEURONS,
        "n_neurons",
        f"1..{MAX_NEURONS}",
        c.n_neurons,
        "the 512x512 field of view holds at most that many non-overlapping ROIs",
    )
    for movie in MOVIES:
        frames, repeats = getattr(c, f"{movie}_frames"), getattr(c, f"{movie}_repeats")
        _require(frames >= 2, f"{movie}_frames", "at least 2 movie frames", frames)
        minimum = 2 if movie == "natural_movie_three" else 1
        _require(
            repeats >= minimum,
            f"{movie}_repeats",
            f"at least {minimum} repeat(s)",
            repeats,
            "natural_movie_three is shown in two epochs" if minimum == 2 else "",
        )
        if c.stimulus_code:
            _require(
                frames <= STIMULUS_CODE_MAX_FRAMES,
                f"{movie}_frames",
                f"<= {STIMULUS_CODE_MAX_FRAMES} with stimulus_code=True",
                frames,
            )
            _require(
                repeats <= STIMULUS_CODE_MAX_REPEATS,
                f"{movie}_repeats",
                f"<= {STIMULUS_CODE_MAX_REPEATS} with stimulus_code=True",
                repeats,
            )
    for name in ("template_height", "template_width"):
        _require(getattr(c, name) >= 8, name, "at least 8 pixels", getattr(c, name))
    _require(
        c.drifting_grating_trials >= 3,
        "drifting_grating_trials",
        "at least 3 (one per drifting-gratings epoch)",
        c.drifting_grating_trials,
    )
    _require(c.spontaneous_frames >= 1, "spontaneous_frames", "at least 1", c.spontaneous_frames)
    _require(
        c.epoch_gap_frames > ALLENSDK_EPOCH_GAP_THRESHOLD,
        "epoch_gap_frames",
        f"more than {ALLENSDK_EPOCH_GAP_THRESHOLD} frames (allensdk's session-A epoch gap)",
        c.epoch_gap_frames,
    )
    _require(c.lead_frames >= 0, "lead_frames", "a non-negative count", c.lead_frames)
    _require(c.tail_frames >= 0, "tail_frames", "a non-negative count", c.tail_frames)
    if c.session_frames is not None:
        needed = required_frames(c)
        _require(
            c.session_frames >= needed,
            "session_frames",
            f"at least {needed} frames to hold every stimulus epoch",
            c.session_frames,
            "lower the movie lengths, repeats or epoch sizes, or leave session_frames=None",
        )
    _require(
        math.isfinite(c.noise_std) and c.noise_std >= 0,
        "noise_std",
        "a finite, non-negative noise sd in dF/F units",
        c.noise_std,
    )
    _require(c.seed >= 0, "seed", "a non-negative integer", c.seed)
    _check_activity(c)
    bad = [i for i in c.nan_neurons if not 0 <= i < c.n_neurons]
    _require(not bad, "nan_neurons", f"neuron indices in 0..{c.n_neurons - 1}", bad)
    _require(
        c.truncate_last_repeat in (None, *MOVIES),
        "truncate_last_repeat",
        f"None or one of {MOVIES}",
        c.truncate_last_repeat,
    )
    _require(
        c.dff_length_offset in (-1, 0, 1), "dff_length_offset", "-1, 0 or 1", c.dff_length_offset
    )


MAX_DRIFT_SD = 0.3
MAX_LATENT_SD = 3.0
MAX_LATENT_COUNT = 32


def _within(value: float, low: float, high: float, high_open: bool = False) -> bool:
    upper = value < high if high_open else value <= high
    return math.isfinite(value) and low <= value and upper


def _check_activity(c: SessionConfig) -> None:
    """Settings of the visual responsiveness and the non-stimulus activity."""
    _require(
        _within(c.responsive_fraction, 0.0, 1.0),
        "responsive_fraction",
        "a fraction of neurons in [0, 1]",
        c.responsive_fraction,
    )
    _require(
        math.isfinite(c.spontaneous_rate_hz) and c.spontaneous_rate_hz >= 0,
        "spontaneous_rate_hz",
        "a finite, non-negative rate in Hz",
        c.spontaneous_rate_hz,
    )
    _require(
        _within(c.latent_sd, 0.0, MAX_LATENT_SD),
        "latent_sd",
        f"an sd of the log excitability in [0, {MAX_LATENT_SD}] (natural-log units)",
        c.latent_sd,
        "0 turns the excitability fluctuations off",
    )
    _require(
        _within(c.latent_shared_fraction, 0.0, 1.0),
        "latent_shared_fraction",
        "a fraction of the excitability variance in [0, 1]",
        c.latent_shared_fraction,
    )
    _require(
        1 <= c.latent_count <= MAX_LATENT_COUNT,
        "latent_count",
        f"1..{MAX_LATENT_COUNT} shared latent processes",
        c.latent_count,
    )
    _require(
        _within(c.latent_behavior_correlation, 0.0, 1.0, high_open=True),
        "latent_behavior_correlation",
        "a correlation in [0, 1)",
        c.latent_behavior_correlation,
        "1 would make the first shared latent a copy of the pupil signal",
    )
    _require(
        _within(c.drift_sd, 0.0, MAX_DRIFT_SD),
        "drift_sd",
        f"a baseline-drift sd in [0, {MAX_DRIFT_SD}] (fraction of the baseline fluorescence)",
        c.drift_sd,
    )
