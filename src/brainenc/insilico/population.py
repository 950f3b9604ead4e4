"""A V1 population: receptive fields, temporal kernels, nonlinearity and behavioural gain.

For neuron ``i`` at 2p frame ``t`` (units: contrast, degrees, frames of ~33 ms, Hz):

1. Spatial filters on the simulation screen (`retina`): a Gabor (75 %) or a difference of
   Gaussians (25 %, ON or OFF). Centres follow one retinotopic rule shared by every mouse, from
   the ROI position ``p = (x, y)`` in the field of view (um from its centre, image x to the
   right, y down): ``az = c_az + M x``, ``alt = c_alt - M y``, plus a per-neuron scatter
   ``N(0, 4 deg)``. The magnification ``M = 0.03 deg/um`` and the axes are those of mouse V1
   with the image x axis running lateral -> medial (azimuth grows towards medial V1) and y
   posterior -> anterior (altitude grows towards posterior V1). The centre ``(c_az, c_alt)`` is
   the monitor centre (0, 0), as when the monitor is placed over the recorded patch's receptive
   fields, plus a per-mouse placement jitter ``U(-3, 3) deg`` on each axis, so the populations of
   every mouse see the same region of the screen. Envelope sd ~ 7 deg (log-normal), Gabor spatial
   frequency ~ 0.04 cycles/deg (log-normal), random orientation and phase. A Gabor has an even and
   an odd (quadrature) filter, both scaled to unit L2 norm; a DoG has only even.
2. Linear drive ``s_e(t), s_o(t)``: projection of the eye-shifted retinal image (`retina`).
3. Temporal filter: ``u(t) = sum_k kern_i(k) s(t - k)``, ``kern(k) = g(k; tau) - b g(k; 1.6 tau)``,
   ``g(k; a) = (k/a)^3 exp(-k/a)`` over 12 taps (~0.4 s), unit L2 norm.
4. Energy / rectification: ``d = (1 - c) sqrt(2) [u_e]_+ + c sqrt(u_e^2 + u_o^2)``, complexity
   ``c`` ~ U(0, 1) for Gabors and 0 for DoGs; ``z = d / sd_movie(d)`` (sd over movie frames,
   saved as ``drive_scale``).
5. Rate: ``r = (G(t) r_max w S(softplus(3 (z - theta)) / 3) + r_spont) g(t) + alpha r_max h(v)
   + r_base`` with the saturation ``S(x) = x / (1 + x / 2)`` (so at most ``2 G r_max``, r_max ~
   8 Hz log-normal), the gain ``G(t) = exp(beta_run h(v) + beta_pupil p(t))``, ``h(v) =
   tanh(v / 10 cm/s)`` of the running speed and ``p(t)`` the z-scored log pupil area. ``w`` is 1
   for visually responsive neurons (a fraction ``responsive_fraction`` of them, drawn at random)
   and 0 for the others; ``r_spont`` (Hz) and the excitability gain ``g`` (mean 1) are the
   non-stimulus activity of `activity` (``r_spont = 0``, ``g = 1`` without it).

Calcium, fluorescence, neuropil and noise follow in `fluorescence`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from brainenc.insilico.activity import Excitability
from brainenc.insilico.behavior import Behavior

TEMPORAL_TAPS = 12
FOV_UM = 400.0
FOV_PX = 512
MAGNIFICATION_DEG_PER_UM = 0.03
# (azimuth, altitude) per um of field-of-view offset (x right, y down), the same in every mouse
RETINOTOPIC_AXES = np.array([[1.0, 0.0], [0.0, -1.0]])
RETINOTOPY_CENTRE_DEG = (0.0, 0.0)
PLACEMENT_JITTER_DEG = 3.0
RF_SCATTER_DEG = 4.0
RATE_SATURATION = 2.0


@dataclass(frozen=True)
class Population:
    """Per-neuron generative parameters, every field (N,) but ``retinotopy_centre`` (2,) deg."""

    rf_azimuth: np.ndarray
    rf_altitude: np.ndarray
    rf_sigma: np.ndarray
    is_gabor: np.ndarray
    orientation: np.ndarray
    spatial_frequency: np.ndarray
    phase: np.ndarray
    dog_sign: np.ndarray
    complexity: np.ndarray
    temporal_tau: np.ndarray
    temporal_rebound: np.ndarray
    threshold: np.ndarray
    rate_max: np.ndarray
    rate_base: np.ndarray
    alpha_run: np.ndarray
    beta_run: np.ndarray
    beta_pupil: np.ndarray
    responsive: np.ndarray
    retinotopy_centre: np.ndarray

    def as_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Every parameter as ``{prefix + name: array}``, for saving."""
        return {prefix + k: np.asarray(v) for k, v in asdict(self).items()}


def retinotopic_position(roi_centres_px: np.ndarray, centre_deg: np.ndarray) -> np.ndarray:
    """(N, 2) (azimuth, altitude) in deg of ROI positions (N, 2) px (x, y), before the scatter.

    The map is the same in every mouse (`RETINOTOPIC_AXES`, `MAGNIFICATION_DEG_PER_UM`); only
    its ``centre_deg`` (2,), the position of the field-of-view centre, differs.
    """
    offset_um = np.asarray(roi_centres_px) * (FOV_UM / FOV_PX) - FOV_UM / 2
    return np.asarray(centre_deg) + MAGNIFICATION_DEG_PER_UM * offset_um @ RETINOTOPIC_AXES.T


def draw_population(
    roi_centres_px: np.ndarray, rng: np.random.Generator, responsive_fraction: float = 1.0
) -> Population:
    """Draw the parameters of neurons whose ROIs sit at (N, 2) pixel positions (x, y).

    ``responsive_fraction`` of the neurons (at random) respond to visual stimuli (``w = 1``).
    """
    n = len(roi_centres_px)
    centre = np.asarray(RETINOTOPY_CENTRE_DEG) + rng.uniform(
        -PLACEMENT_JITTER_DEG, PLACEMENT_JITTER_DEG, 2
    )
    rf = retinotopic_position(roi_centres_px, centre) + rng.normal(0, RF_SCATTER_DEG, (n, 2))
    is_gabor = rng.random(n) < 0.75
    return Population(
        rf_azimuth=rf[:, 0],
        rf_altitude=rf[:, 1],
        rf_sigma=rng.lognormal(np.log(7.0), 0.25, n),
        is_gabor=is_gabor,
        orientation=rng.uniform(0, np.pi, n),
        spatial_frequency=np.clip(rng.lognormal(np.log(0.04), 0.35, n), 0.015, 0.12),
        phase=rng.uniform(0, 2 * np.pi, n),
        dog_sign=rng.choice([-1.0, 1.0], n),
        complexity=np.where(is_gabor, rng.uniform(0, 1, n), 0.0),
        temporal_tau=rng.uniform(0.9, 1.5, n),
        temporal_rebound=rng.uniform(0.3, 0.8, n),
        threshold=rng.uniform(0.5, 2.0, n),
        rate_max=rng.lognormal(np.log(8.0), 0.4, n),
        rate_base=rng.lognormal(np.log(0.5), 0.5, n),
        alpha_run=np.abs(rng.normal(0, 0.15, n)),
        beta_run=rng.normal(0.4, 0.3, n),
        beta_pupil=rng.normal(0.2, 0.15, n),
        responsive=rng.random(n) < responsive_fraction,  # drawn last: the rest stays put
        retinotopy_centre=centre,
    )


def behavior_signals(behavior: Behavior) -> tuple[np.ndarray, np.ndarray]:
    """Running ``h(v) = tanh(v / 10 cm/s)`` and z-scored log pupil area ``p``, both (T,)."""
    running = np.tanh(np.maximum(behavior.running_speed, 0) / 10.0)
    log_area = np.log(behavior.pupil_area)
    pupil = (log_area - log_area.mean()) / max(log_area.std(), 1e-9)
    return running, pupil


def spatial_filters(pop: Population, azimuth: np.ndarray, altitude: np.ndarray) -> np.ndarray:
    """(h * w, 2N) float32: even filters in columns 0..N-1, odd (quadrature) in N..2N-1."""
    az = azimuth[None, None, :] - pop.rf_azimuth[:, None, None]
    alt = altitude[None, :, None] - pop.rf_altitude[:, None, None]
    sigma = pop.rf_sigma[:, None, None]
    theta = pop.orientation[:, None, None]
    along = az * np.cos(theta) + alt * np.sin(theta)
    across = -az * np.sin(theta) + alt * np.cos(theta)
    envelope = np.exp(-(along**2 + (across / 1.2) ** 2) / (2 * sigma**2))
    carrier = 2 * np.pi * pop.spatial_frequency[:, None, None] * along + pop.phase[:, None, None]
    radius2 = az**2 + alt**2
    centre_sd, surround_sd = 0.7 * sigma, 1.75 * sigma
    dog = (
        np.exp(-radius2 / (2 * centre_sd**2)) / centre_sd**2
        - 0.7 * np.exp(-radius2 / (2 * surround_sd**2)) / surround_sd**2
    )
    gabor = pop.is_gabor[:, None, None]
    even = np.where(gabor, envelope * np.cos(carrier), pop.dog_sign[:, None, None] * dog)
    odd = np.where(gabor, envelope * np.sin(carrier), 0.0)
    norm = np.sqrt((even**2).sum(axis=(1, 2)) + 1e-12)[:, None, None]
    n = len(pop.rf_sigma)
    both = np.concatenate([even / norm, odd / norm]).reshape(2 * n, -1)
    return np.ascontiguousarray(both.T, dtype=np.float32)


def temporal_kernels(pop: Population) -> np.ndarray:
    """(N, TEMPORAL_TAPS) biphasic kernels, unit L2 norm; tap k weighs the frame k frames back."""
    k = np.arange(TEMPORAL_TAPS)[None, :] + 0.5
    tau = pop.temporal_tau[:, None]

    def gamma(scale: np.ndarray) -> np.ndarray:
        return (k / scale) ** 3 * np.exp(-k / scale)

    kernels = gamma(tau) - pop.temporal_rebound[:, None] * gamma(1.6 * tau)
    return kernels / np.linalg.norm(kernels, axis=1, keepdims=True)


def _causal_filter(x: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Per-row causal FIR filter: out[i, t] = sum_k kernels[i, k] x[i, t - k]; x (N, T)."""
    out = kernels[:, :1] * x
    for k in range(1, kernels.shape[1]):
        out[:, k:] += kernels[:, k : k + 1] * x[:, :-k]
    return out


def firing_rates(
    projections: np.ndarray,
    pop: Population,
    behavior: Behavior,
    movie_frames: np.ndarray,
    excitability: Excitability | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Firing rates (N, T) in Hz from retinal projections (T, 2N) (steps 3-5 of the docstring).

    Parameters
    ----------
    projections
        (T, 2N) float32 projections of the retinal image on the even and odd filters.
    pop
        The population.
    behavior
        Latent behaviour on the 2p clock.
    movie_frames
        (T,) bool: the frames used to normalise the drive.
    excitability
        Non-stimulus activity (`activity.draw_excitability`); None: none (``r_spont = 0``,
        ``g = 1``).

    Returns
    -------
    rates, expected, drive_scale
        The rates the neurons fire at (N, T) Hz; their expectation given the stimulus and the
        behaviour (``g`` replaced by ``E[g | b]``; equal to ``rates`` without non-stimulus
        activity), (N, T) Hz; and the per-neuron ``drive_scale`` (N,).
    """
    n = len(pop.rf_sigma)
    kernels = temporal_kernels(pop)
    kernels32 = kernels.astype(np.float32)
    even = _causal_filter(np.ascontiguousarray(projections[:, :n].T), kernels32)
    odd = _causal_filter(np.ascontiguousarray(projections[:, n:].T), kernels32)
    c = pop.complexity[:, None]
    drive = (1 - c) * np.sqrt(2) * np.maximum(even, 0) + c * np.sqrt(even**2 + odd**2)
    reference = drive[:, movie_frames] if movie_frames.any() else drive
    drive_scale = np.maximum(reference.std(axis=1), 1e-9)
    z = drive / drive_scale[:, None]
    running, pupil = (x[None, :] for x in behavior_signals(behavior))
    gain = np.exp(pop.beta_run[:, None] * running + pop.beta_pupil[:, None] * pupil)
    drive_term = np.logaddexp(0.0, 3.0 * (z - pop.threshold[:, None])) / 3.0
    stimulus = drive_term / (1.0 + drive_term / RATE_SATURATION)
    evoked = gain * pop.rate_max[:, None] * (stimulus * pop.responsive[:, None])
    running_term = pop.alpha_run[:, None] * pop.rate_max[:, None] * running
    if excitability is None:
        rates = np.maximum(evoked + running_term + pop.rate_base[:, None], 0.0)
        return rates, rates, drive_scale
    evoked += excitability.spontaneous_rate[:, None]
    rates = evoked * excitability.gain + running_term + pop.rate_base[:, None]
    expected = evoked * excitability.expected_gain + running_term + pop.rate_base[:, None]
    return np.maximum(rates, 0.0), np.maximum(expected, 0.0), drive_scale
