"""Non-stimulus activity: spontaneous firing, latent excitability and slow baseline drift.

Real V1 is busy when nothing is shown and varies from one repeat of a movie to the next: shared,
low-dimensional fluctuations (partly tied to arousal), private fluctuations of each cell, and
slow drifts of the fluorescence baseline. For neuron ``i`` at 2p frame ``t``:

* excitability ``eta_i(t) = sqrt(f) sum_k W_ik z_k(t) + sqrt(1 - f) p_i(t)``, unit variance, with
  ``f = latent_shared_fraction``; ``z_k`` are ``K = latent_count`` shared Ornstein-Uhlenbeck (OU)
  processes of unit variance and time constants log-uniform in `LATENT_TAU_RANGE_S` (0.5-5 s);
  ``W_i`` (K,) a random direction (unit norm), so every neuron's ``eta`` has unit variance;
  ``p_i`` a private unit-variance OU process, time constant log-uniform in the same range.
* arousal coupling: ``z_0(t) = rho b(t) + sqrt(1 - rho^2) OU_0(t)`` with ``b`` the z-scored log
  pupil area and ``rho = latent_behavior_correlation``; the rest of ``eta`` is unexplained by any
  recorded behaviour (with the defaults, the pupil explains ``f rho^2 / K`` ~ 1 % of the variance
  of ``eta`` on average).
* gain ``g_i(t) = exp(sigma eta_i(t) - sigma^2 / 2)`` (mean 1), ``sigma = latent_sd`` in natural-log
  units, multiplies both the visual response and the spontaneous rate
  ``r_spont_i = spontaneous_rate_hz * LogNormal(0, SPONTANEOUS_RATE_LOG_SD)`` (Hz), see
  `population.firing_rates`. With ``sigma = 1.45`` (``realistic``) the gain is below 1 most of
  the time (median ``exp(-sigma^2 / 2)`` ~ 0.35) and above 10 about 1 % of the time: sparse,
  bursty activity whose largest bursts are capped in fluorescence by the calcium saturation
  (`fluorescence`), not in rate.
* expected gain given the behaviour (what the noise-free truth uses; ``b`` is the latent pupil
  signal, which the NWB file records with noise and blinks):
  ``E[g_i | b] = exp(sigma e_i(t) - sigma^2 v_i / 2)``, ``e_i = sqrt(f) W_i0 rho b(t)``,
  ``v_i = f W_i0^2 rho^2``.
* baseline drift ``d_i(t)``: OU with time constant `DRIFT_TAU_S` (3 min) and sd ``drift_sd``
  (fraction of the baseline fluorescence); the recorded baseline is ``F0(t) (1 + d_i(t))`` (see
  `fluorescence`), the truth keeps ``F0(t)``.

The values of the ``realistic`` and ``clean`` profiles, and how ``latent_sd`` was calibrated
against real data, are in `presets`. Every process is drawn from its own random stream, so
turning non-stimulus activity off (``latent_sd = 0``, ``spontaneous_rate_hz = 0``,
``drift_sd = 0``) leaves every other array of the session exactly as without this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

LATENT_TAU_RANGE_S = (0.5, 5.0)
SPONTANEOUS_RATE_LOG_SD = 0.5
DRIFT_TAU_S = 180.0


@dataclass(frozen=True)
class Excitability:
    """Non-stimulus terms of the rate of every neuron.

    Attributes
    ----------
    spontaneous_rate
        (N,) spontaneous rate ``r_spont`` in Hz (before the gain).
    gain
        (N, T) gain ``g`` (mean 1) that the neurons experience.
    expected_gain
        (N, T) its expectation given the recorded behaviour, ``E[g | b]``.
    """

    spontaneous_rate: np.ndarray
    gain: np.ndarray
    expected_gain: np.ndarray


@dataclass(frozen=True)
class Latents:
    """Per-neuron parameters and shared processes of the excitability, for the truth file.

    ``loadings`` (N, K) unit-norm rows ``W``, ``shared`` (K, T) float32 processes ``z``,
    ``shared_tau_s`` (K,), ``private_tau_s`` (N,) and ``spontaneous_rate`` (N,) Hz.
    """

    loadings: np.ndarray
    shared: np.ndarray
    shared_tau_s: np.ndarray
    private_tau_s: np.ndarray
    spontaneous_rate: np.ndarray

    def as_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Every array as ``{prefix + name: array}``, for saving."""
        return {prefix + k: np.asarray(v) for k, v in vars(self).items()}


def ou_processes(
    n_frames: int, tau_frames: np.ndarray, rng: np.random.Generator, dtype: type = np.float64
) -> np.ndarray:
    """(M, n_frames) stationary unit-variance OU processes with time constants (M,) in frames."""
    a = np.exp(-1.0 / np.asarray(tau_frames, dtype=np.float64))[:, None]
    drive = rng.standard_normal((len(a), n_frames)).astype(dtype)
    drive[:, 1:] *= np.sqrt(1.0 - a * a).astype(dtype)
    out = np.empty_like(drive)
    for row, coefficient in enumerate(a[:, 0]):
        out[row] = signal.lfilter([1.0], [1.0, -coefficient], drive[row])
    return out


def _log_uniform(low: float, high: float, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def draw_excitability(
    n: int,
    pupil: np.ndarray,
    frame_rate_hz: float,
    rng: np.random.Generator,
    *,
    spontaneous_rate_hz: float,
    latent_sd: float,
    latent_shared_fraction: float,
    latent_count: int,
    latent_behavior_correlation: float,
) -> tuple[Excitability, Latents]:
    """Draw the spontaneous rates and the excitability of ``n`` neurons (module docstring).

    Parameters
    ----------
    n
        Number of neurons.
    pupil
        (T,) z-scored log pupil area on the 2p clock (the arousal signal ``b``).
    frame_rate_hz
        2p frame rate.
    rng
        Stream of this mouse's non-stimulus activity.
    spontaneous_rate_hz, latent_sd, latent_shared_fraction, latent_count,
    latent_behavior_correlation
        The `SessionConfig` settings of the same names.
    """
    t = len(pupil)
    spontaneous = spontaneous_rate_hz * rng.lognormal(0.0, SPONTANEOUS_RATE_LOG_SD, n)
    loadings = rng.standard_normal((n, latent_count))
    loadings /= np.linalg.norm(loadings, axis=1, keepdims=True)
    shared_tau = _log_uniform(*LATENT_TAU_RANGE_S, latent_count, rng)
    private_tau = _log_uniform(*LATENT_TAU_RANGE_S, n, rng)
    if latent_sd == 0:
        ones = np.ones((n, t))
        empty = np.zeros((latent_count, t), dtype=np.float32)
        return (
            Excitability(spontaneous, ones, ones),
            Latents(loadings, empty, shared_tau, private_tau, spontaneous),
        )
    rho, f = latent_behavior_correlation, latent_shared_fraction
    shared = ou_processes(t, shared_tau * frame_rate_hz, rng)
    shared[0] = rho * pupil + np.sqrt(1.0 - rho * rho) * shared[0]
    eta = np.sqrt(f) * (loadings @ shared)
    eta += np.sqrt(1.0 - f) * ou_processes(t, private_tau * frame_rate_hz, rng)
    explained = (np.sqrt(f) * rho * loadings[:, :1]) * pupil[None, :]
    explained_var = f * rho**2 * loadings[:, :1] ** 2
    gain = np.exp(latent_sd * eta - latent_sd**2 / 2)
    expected = np.exp(latent_sd * explained - latent_sd**2 * explained_var / 2)
    return (
        Excitability(spontaneous, gain, expected),
        Latents(loadings, shared.astype(np.float32), shared_tau, private_tau, spontaneous),
    )


def baseline_drift(
    n: int, n_frames: int, frame_rate_hz: float, rng: np.random.Generator, drift_sd: float
) -> np.ndarray | None:
    """(N, T) relative baseline drift ``d`` (OU, `DRIFT_TAU_S`, sd ``drift_sd``); None when 0."""
    if drift_sd == 0:
        return None
    tau = np.full(n, DRIFT_TAU_S * frame_rate_hz)
    return drift_sd * ou_processes(n_frames, tau, rng)
