"""From firing rates to the fluorescence traces of the NWB file.

For neuron ``i`` (times ``t`` in s from the first 2p frame, ``T_s`` the session duration):

* calcium (spike-equivalents): ``ca(t) = sum_k K(k dt) r(t - k dt) dt`` with the GCaMP6f-like
  kernel ``K(s) = (1 - exp(-s / 0.05 s)) exp(-s / tau_decay)``, ``tau_decay`` ~ U(0.45, 0.85) s.
* baseline with slow bleaching: ``F0(t) = F0 (1 - kappa t / T_s)``, ``F0`` ~ 350 (log-normal),
  ``kappa`` ~ U(0.02, 0.08).
* noise-free corrected fluorescence (saved as the truth):
  ``F(t) = F0(t) (1 + A ca(t) / (1 + ca(t) / 30))``, ``A`` ~ 0.12 dF/F per spike (log-normal),
  saturating for bursts of more than ~30 spikes, with ``ca`` the calcium of the expected rates
  given the stimulus and the behaviour (`population.firing_rates`: the non-stimulus activity of
  `activity` that behaviour does not explain is averaged out).
* spiking (``poisson_spikes``): the recorded calcium comes from spike counts drawn per frame,
  ``n(t) ~ Poisson(r(t) dt)`` of the actual rates, convolved with the same kernel; the truth is
  the trace of the expected calcium (the saturation makes it differ slightly from the expected
  recorded trace). Without spiking the recorded calcium is that of the actual rates.
* neuropil: ``Np(t) = Np0 (1 - kappa t / T_s) (1 + 0.5 P(t)) + N(0, 0.02 Np0)``, ``P`` the
  population mean of ``A ca`` of the actual rates smoothed over 0.5 s, ``Np0 = F0 U(0.6, 1.0)``;
  contamination coefficient ``r`` ~ N(0.7, 0.08) clipped to [0.3, 1].
* recorded: ``demixed = F_rec + eps + r Np``, ``F_rec = F0(t) (1 + d(t)) (1 + A ca_rec / (1 +
  ca_rec / 30))`` from the spiking calcium ``ca_rec`` and the slow baseline drift ``d`` of
  `activity` (0 without it), with white recording noise ``eps ~ N(0, sigma_i^2)``, ``sigma_i =
  noise_std * m_i * F0`` (``noise_std`` is the noise sd in dF/F units, ~ shot noise at 30 Hz) and
  ``m_i`` ~ log-normal(0, 0.3) (per-neuron brightness / expression). Hence ``demixed - r Np =
  F_rec + eps`` is what allensdk's ``get_corrected_fluorescence_traces`` returns; without spiking,
  drift or non-stimulus activity its expected correlation with ``F`` is ``sd(F) / sqrt(sd(F)^2 +
  sigma_i^2)``. The raw ROI trace equals the demixed one (no overlapping ROIs to demix).
* dF/F: ``(F_rec + eps - F0(t)) / F0(t)``, using the known baseline (so the drift stays in it).

Stimulus-code mode replaces ``F`` by the code of the frame on screen (`stimulus_code`), with no
noise; neuropil is rounded to integers and ``r`` to multiples of 1/64 so that
``demixed - r Np`` reproduces the code exactly in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

CALCIUM_RISE_S = 0.05
CALCIUM_SATURATION = 30.0
MOVIE_CODES = {"natural_movie_one": 1, "natural_movie_three": 3}


@dataclass(frozen=True)
class Optics:
    """Per-neuron imaging parameters, every field (N,)."""

    calcium_tau_decay: np.ndarray
    dff_per_spike: np.ndarray
    baseline: np.ndarray
    bleach: np.ndarray
    neuropil_baseline: np.ndarray
    neuropil_r: np.ndarray
    noise_scale: np.ndarray


@dataclass(frozen=True)
class Traces:
    """Everything fluorescent: (N, T) arrays except ``r``/``noise_sd`` (N,) and dF/F timestamps."""

    truth: np.ndarray
    demixed: np.ndarray
    neuropil: np.ndarray
    r: np.ndarray
    dff: np.ndarray
    dff_timestamps: np.ndarray
    noise_sd: np.ndarray


def draw_optics(n: int, rng: np.random.Generator) -> Optics:
    """Draw the imaging parameters of ``n`` neurons."""
    baseline = rng.lognormal(np.log(350.0), 0.35, n)
    return Optics(
        calcium_tau_decay=rng.uniform(0.45, 0.85, n),
        dff_per_spike=rng.lognormal(np.log(0.12), 0.3, n),
        baseline=baseline,
        bleach=rng.uniform(0.02, 0.08, n),
        neuropil_baseline=baseline * rng.uniform(0.6, 1.0, n),
        neuropil_r=np.clip(rng.normal(0.7, 0.08, n), 0.3, 1.0),
        noise_scale=rng.lognormal(0.0, 0.3, n),
    )


def stimulus_code(movie: np.ndarray, frame: np.ndarray, repeat: np.ndarray) -> np.ndarray:
    """Code of the movie frame on screen per 2p frame, (T,) float64.

    ``code = 1_000_000 * movie_code + 10_000 * repeat + frame`` with movie_code 1 for
    natural_movie_one and 3 for natural_movie_three (``movie`` index 0 / 1 from
    `schedule.movie_frame_labels`), and -1 when no movie frame is on screen. Decode with
    ``movie_code = code // 1_000_000``, ``repeat = code // 10_000 % 100``, ``frame = code % 10_000``.
    A stimulus-table row spanning frames ``start:end`` sets the code of those 2p frames; a 0-frame
    row (``start == end``) sets none (its ``start`` frame shows the next movie frame).
    """
    codes = np.array([MOVIE_CODES["natural_movie_one"], MOVIE_CODES["natural_movie_three"]])
    out = 1_000_000.0 * codes[np.maximum(movie, 0)] + 10_000.0 * repeat + frame
    return np.where(movie >= 0, out, -1.0)


def _calcium(rates: np.ndarray, tau_decay: np.ndarray, dt: float) -> np.ndarray:
    """Convolve (N, T) rates with K(k dt) dt, K(s) = exp(-s/tau_d) - exp(-s (1/tau_d + 1/tau_r))."""
    out = np.empty(rates.shape, dtype=np.float64)
    for i, tau in enumerate(tau_decay):
        slow = signal.lfilter([dt], [1.0, -np.exp(-dt / tau)], rates[i])
        fast_rate = 1.0 / tau + 1.0 / CALCIUM_RISE_S
        out[i] = slow - signal.lfilter([dt], [1.0, -np.exp(-dt * fast_rate)], rates[i])
    return out


def _dff_with_offset(
    dff: np.ndarray, timestamps: np.ndarray, offset: int
) -> tuple[np.ndarray, ...]:
    if offset < 0:
        return dff[:, :offset], timestamps[:offset]
    if offset > 0:
        extra_t = timestamps[-1] + np.diff(timestamps[-2:])
        return np.concatenate([dff, dff[:, -1:]], axis=1), np.concatenate([timestamps, extra_t])
    return dff, timestamps


def _dff(rates: np.ndarray, optics: Optics, dt: float) -> np.ndarray:
    calcium = _calcium(rates, optics.calcium_tau_decay, dt)
    return optics.dff_per_spike[:, None] * calcium / (1.0 + calcium / CALCIUM_SATURATION)


def fluorescence_traces(
    rates: np.ndarray,
    optics: Optics,
    timestamps: np.ndarray,
    rng: np.random.Generator,
    *,
    noise_std: float,
    poisson_spikes: bool = True,
    code: np.ndarray | None = None,
    nan_neurons: tuple[int, ...] = (),
    dff_length_offset: int = 0,
    expected_rates: np.ndarray | None = None,
    drift: np.ndarray | None = None,
) -> Traces:
    """Build every fluorescence trace (see the module docstring).

    Parameters
    ----------
    rates
        (N, T) firing rates in Hz.
    optics
        Per-neuron imaging parameters.
    timestamps
        (T,) 2p timestamps in s.
    rng
        Stream for spikes, neuropil and recording noise.
    noise_std
        Noise sd in dF/F units, i.e. as a fraction of each neuron's baseline (times its
        ``noise_scale``).
    poisson_spikes
        Record calcium from Poisson spike counts (True) or from the rates themselves (False).
    code
        (T,) stimulus code: every neuron's corrected trace becomes this code (no noise).
    nan_neurons
        Rows made all-NaN in the recorded traces (the truth keeps its values).
    dff_length_offset
        -1, 0 or 1: dF/F is stored that many samples longer than the fluorescence traces.
    expected_rates
        (N, T) rates in Hz expected given the stimulus and the behaviour, for the truth; None:
        ``rates`` (no non-stimulus activity).
    drift
        (N, T) relative baseline drift ``d`` of the recorded traces (`activity.baseline_drift`);
        None: none.
    """
    n, t = rates.shape
    elapsed = (timestamps - timestamps[0]) / max(timestamps[-1] - timestamps[0], 1e-9)
    bleaching = 1.0 - optics.bleach[:, None] * elapsed[None, :]
    f0 = optics.baseline[:, None] * bleaching
    dt = float(np.median(np.diff(timestamps)))
    actual = _dff(rates, optics, dt)
    same = expected_rates is None or expected_rates is rates
    expected = actual if same else _dff(expected_rates, optics, dt)
    population = ndimage.gaussian_filter1d(actual.mean(axis=0), 0.5 / dt)
    neuropil = optics.neuropil_baseline[:, None] * bleaching * (1 + 0.5 * population[None, :])
    neuropil += rng.normal(0.0, 1.0, (n, t)) * 0.02 * optics.neuropil_baseline[:, None]
    r = optics.neuropil_r.copy()
    if code is not None:
        truth = np.broadcast_to(code, (n, t)).astype(np.float64)
        neuropil, r = np.rint(neuropil), np.round(r * 64) / 64
        noise_sd = np.zeros(n)
        corrected = truth.copy()
        dff = truth.copy()
    else:
        truth = f0 * (1 + expected)
        recorded = _dff(rng.poisson(rates * dt) / dt, optics, dt) if poisson_spikes else actual
        noise_sd = noise_std * optics.noise_scale * optics.baseline
        f0_recorded = f0 if drift is None else f0 * (1.0 + drift)
        corrected = f0_recorded * (1 + recorded) + rng.standard_normal((n, t)) * noise_sd[:, None]
        dff = (corrected - f0) / f0
    demixed = corrected + r[:, None] * neuropil
    rows = list(nan_neurons)
    demixed[rows] = np.nan
    dff[rows] = np.nan
    dff, dff_timestamps = _dff_with_offset(dff, timestamps, dff_length_offset)
    return Traces(truth, demixed, neuropil, r, dff, dff_timestamps, noise_sd)
