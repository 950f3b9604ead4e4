"""Simulated behaviour: running, pupil size and eye position, and how the rig records them.

Latent behaviour (on the 2-photon clock, what the neurons actually experience):

* running: a two-state process. Stationary and running bouts alternate with exponential durations
  (means 40 s and 25 s); during a bout the speed fluctuates around a bout mean (log-normal, median
  20 cm/s) as an Ornstein-Uhlenbeck (OU) process (tau 1.5 s, sd 5 cm/s). Transitions are smoothed
  with a Gaussian of 0.4 s.
* pupil area (px^2): ``log A = log A0 + 0.45 * R(t) + OU(tau 8 s, sd 0.2)``, ``R`` the running state
  smoothed over 3 s (arousal), ``A0`` ~ 2,000 px^2.
* eye position (degrees, azimuth and altitude, (0, 0) = monitor centre): saccades at
  0.15 Hz (+0.35 Hz while running) jump a target that relaxes towards a resting offset
  (``target <- 0.5 target + N(0, (4 deg, 1.5 deg))``), plus OU fixational drift (tau 0.5 s, sd 0.5 deg).

SessionContents (what goes into the NWB file):

* running speed: latent + encoder noise (sd 0.4 cm/s, so small negative speeds occur), on the 2p
  timestamps, starting 1-8 frames late and ending 1-8 frames early (allensdk pads both with NaN),
  with a few NaN gaps of 1-40 frames.
* eye tracking: its own ~30 Hz camera clock (offset by up to 0.5 s, rate off by up to 0.3 %);
  latents are interpolated onto it, with measurement noise (0.2 deg, 1.5 % of area) and blinks
  (NaN runs of 4-20 samples every ~20 s, plus isolated dropouts) in all three series.
  ``pupil_location`` is the spherical position projected onto the monitor plane at
  `MONITOR_DISTANCE_CM`: ``x = d tan(az)``, ``y = d tan(alt) / cos(az)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

MONITOR_DISTANCE_CM = 15.0


@dataclass(frozen=True)
class Behavior:
    """Latent behaviour on the 2p clock: running (T,) cm/s, pupil area (T,) px^2, eye (T, 2) deg."""

    running_speed: np.ndarray
    pupil_area: np.ndarray
    eye_position: np.ndarray


@dataclass(frozen=True)
class RecordedBehavior:
    """Behaviour as stored in the NWB file (NaN where the rig lost it)."""

    running_speed: np.ndarray
    running_timestamps: np.ndarray
    eye_timestamps: np.ndarray
    pupil_location_spherical: np.ndarray
    pupil_location_cm: np.ndarray
    pupil_area: np.ndarray


def _ou(n: int, tau_frames: float, sd: float, rng: np.random.Generator) -> np.ndarray:
    a = np.exp(-1.0 / tau_frames)
    drive = rng.standard_normal(n) * sd * np.sqrt(1.0 - a * a)
    drive[0] = rng.standard_normal() * sd
    return signal.lfilter([1.0], [1.0, -a], drive)


def _bouts(n: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """(n,) float 0/1 running state with exponential stationary / running bout durations."""
    state = np.zeros(n)
    position, running = 0, bool(rng.random() < 0.4)
    while position < n:
        mean_s = 25.0 if running else 40.0
        length = max(1, int(rng.exponential(mean_s) * rate_hz))
        state[position : position + length] = float(running)
        position += length
        running = not running
    return state


def simulate_behavior(timestamps: np.ndarray, rng: np.random.Generator) -> Behavior:
    """Draw the latent behaviour of one session on the 2p timestamps (T,) in s."""
    n = len(timestamps)
    rate = 1.0 / float(np.median(np.diff(timestamps)))
    state = _bouts(n, rate, rng)
    bout_id = np.cumsum(np.r_[0, np.diff(state) != 0])
    bout_mean = rng.lognormal(np.log(20.0), 0.3, size=bout_id[-1] + 1)[bout_id]
    running = np.clip(bout_mean + _ou(n, 1.5 * rate, 5.0, rng), 0.0, None) * state
    running = ndimage.gaussian_filter1d(running, 0.4 * rate)

    arousal = ndimage.gaussian_filter1d(state, 3.0 * rate)
    log_area = np.log(rng.lognormal(np.log(2000.0), 0.2)) + 0.45 * arousal
    pupil_area = np.exp(log_area + _ou(n, 8.0 * rate, 0.2, rng))

    saccade_rate = (0.15 + 0.35 * state) / rate
    saccades = np.flatnonzero(rng.random(n) < saccade_rate)
    targets = np.zeros((len(saccades) + 1, 2))
    for k in range(1, len(targets)):
        targets[k] = 0.5 * targets[k - 1] + rng.normal(0.0, [4.0, 1.5])
    target = targets[np.searchsorted(saccades, np.arange(n), side="right")]
    rest = rng.normal(0.0, 3.0, size=2)
    drift = np.stack([_ou(n, 0.5 * rate, 0.5, rng) for _ in range(2)], axis=1)
    eye = rest + ndimage.uniform_filter1d(target, 2, axis=0) + drift
    return Behavior(running_speed=running, pupil_area=pupil_area, eye_position=eye)


def _nan_runs(
    n: int, count: int, shortest: int, longest: int, rng: np.random.Generator
) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for start, length in zip(
        rng.integers(0, n, count), rng.integers(shortest, longest + 1, count), strict=True
    ):
        mask[start : start + length] = True
    return mask


def record_behavior(
    behavior: Behavior, timestamps: np.ndarray, rng: np.random.Generator
) -> RecordedBehavior:
    """Turn latent behaviour into the series the rig stores (see the module docstring)."""
    n = len(timestamps)
    first, last = int(rng.integers(1, 9)), n - int(rng.integers(1, 9))
    running = behavior.running_speed[first:last] + rng.normal(0.0, 0.4, last - first)
    running[_nan_runs(last - first, 1 + (last - first) // 20_000, 1, 40, rng)] = np.nan
    running_timestamps = timestamps[first:last].copy()

    period = (1.0 / 30.0) * (1.0 + rng.uniform(-0.003, 0.003))
    start = timestamps[0] + rng.uniform(-0.5, 0.5)
    n_eye = int((timestamps[-1] - start) / period) - int(rng.integers(0, 10))
    eye_t = start + period * np.arange(n_eye) + rng.normal(0.0, 2e-4, n_eye)
    eye_t.sort()
    spherical = np.stack(
        [np.interp(eye_t, timestamps, behavior.eye_position[:, k]) for k in range(2)], axis=1
    ) + rng.normal(0.0, 0.2, (n_eye, 2))
    area = np.interp(eye_t, timestamps, behavior.pupil_area) * (1.0 + rng.normal(0.0, 0.015, n_eye))
    duration_s = eye_t[-1] - eye_t[0]
    blinks = _nan_runs(n_eye, max(1, int(duration_s / 20.0)), 4, 20, rng)
    blinks |= rng.random(n_eye) < 0.002
    spherical[blinks] = np.nan
    area[blinks] = np.nan
    az, alt = np.deg2rad(spherical[:, 0]), np.deg2rad(spherical[:, 1])
    cm = np.stack(
        [MONITOR_DISTANCE_CM * np.tan(az), MONITOR_DISTANCE_CM * np.tan(alt) / np.cos(az)], axis=1
    )
    return RecordedBehavior(
        running_speed=running,
        running_timestamps=running_timestamps,
        eye_timestamps=eye_t,
        pupil_location_spherical=spherical,
        pupil_location_cm=cm,
        pupil_area=area,
    )
