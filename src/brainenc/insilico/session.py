"""Simulate one session end to end and write ``<id>.nwb`` plus ``<id>.truth.npz`` beside it.

The truth file holds what the NWB file cannot: ``truth`` (N, T) float32, the noise-free corrected
fluorescence of every neuron (or the stimulus code), ``timestamps`` (T,), ``noise_sd`` (N,) (the
sd of the recording noise added to it), ``recorded_truth_correlation`` (N,) (Pearson r between
the recorded corrected trace and the truth over the whole session), the latent behaviour on the
2p clock (``latent_running_speed``, ``latent_pupil_area``, ``latent_eye_position``), the labels
of the movie frame on screen per 2p frame (``shown_movie``, ``shown_frame``, ``shown_repeat``),
every generative parameter (``population_*``, ``optics_*``, ``drive_scale``, ``spatial_filters``,
``temporal_kernels``, ``simulation_shape``), the non-stimulus activity's parameters and shared
latent processes (``activity_loadings`` (N, K), ``activity_shared`` (K, T) float32,
``activity_shared_tau_s``, ``activity_private_tau_s``, ``activity_spontaneous_rate`` in Hz) and
the settings as JSON (``config_json``).

The truth is the fluorescence a perfect model of the stimulus and the behaviour would predict:
the calcium of the expected rates given both, without spiking noise, the excitability
fluctuations that behaviour does not explain, the baseline drift or the recording noise
(`activity`, `fluorescence`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import signal

from brainenc.atomic_files import atomic_destination
from brainenc.insilico.activity import baseline_drift, draw_excitability
from brainenc.insilico.behavior import record_behavior, simulate_behavior
from brainenc.insilico.fluorescence import draw_optics, fluorescence_traces, stimulus_code
from brainenc.insilico.movies import contrast_movie, make_movie
from brainenc.insilico.nwb import SessionContents, write_nwb
from brainenc.insilico.population import (
    Population,
    behavior_signals,
    draw_population,
    firing_rates,
    spatial_filters,
    temporal_kernels,
)
from brainenc.insilico.random_streams import stream
from brainenc.insilico.retina import retinal_projections, screen_grid, simulation_shape
from brainenc.insilico.rois import Rois, max_projection, place_rois
from brainenc.insilico.schedule import build_schedule, movie_frame_labels
from brainenc.insilico.session_config import MOVIES, SessionConfig


def make_templates(c: SessionConfig) -> dict[str, np.ndarray]:
    """Both movie templates for ``c`` (they depend only on the seed and sizes, not on the mouse)."""
    return {
        name: make_movie(
            name, getattr(c, f"{name}_frames"), c.template_height, c.template_width, c.seed
        )
        for name in MOVIES
    }


def truth_path(nwb_path: Path) -> Path:
    """``<dir>/<stem>.truth.npz`` beside an NWB file."""
    nwb_path = Path(nwb_path)
    return nwb_path.with_name(f"{nwb_path.stem}.truth.npz")


def _correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=1) / denominator


def _motion_offsets(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) whole-pixel x/y motion-correction offsets: AR(1) jitter, ~10 s memory, sd 1.5 px."""
    a = np.exp(-1.0 / 300.0)
    drive = rng.normal(0.0, 1.5 * np.sqrt(1 - a * a), (n, 2))
    return np.rint(signal.lfilter([1.0], [1.0, -a], drive, axis=0))


def mouse_population(config: SessionConfig) -> tuple[Rois, Population]:
    """ROIs and neuron parameters of the mouse of ``config``, as `simulate_session` draws them."""
    c = config
    rois = place_rois(c.n_neurons, stream(c.seed, "mouse", c.mouse_id, "rois"))
    pop = draw_population(
        rois.centres, stream(c.seed, "mouse", c.mouse_id, "population"), c.responsive_fraction
    )
    return rois, pop


def simulate_session(
    config: SessionConfig, templates: dict[str, np.ndarray] | None = None
) -> tuple[SessionContents, dict[str, np.ndarray]]:
    """Simulate one session: what goes into the NWB file and into the truth file.

    Parameters
    ----------
    config
        Settings of the session.
    templates
        Movie templates from `make_templates` (pass them to share one rendering between mice).

    Returns
    -------
    recording, truth
        The NWB content and the arrays of ``<id>.truth.npz`` (see the module docstring).
    """
    c = config
    if templates is None:
        templates = make_templates(c)
    schedule = build_schedule(c)
    t = schedule.timestamps
    rois, pop = mouse_population(c)
    optics = draw_optics(c.n_neurons, stream(c.seed, "mouse", c.mouse_id, "optics"))
    latent = simulate_behavior(t, stream(c.seed, "mouse", c.mouse_id, "behavior"))
    recorded = record_behavior(latent, t, stream(c.seed, "mouse", c.mouse_id, "recording"))

    h, w = simulation_shape(c.template_height, c.template_width)
    filters = spatial_filters(pop, *screen_grid(h, w))
    small = {name: contrast_movie(stack, h, w) for name, stack in templates.items()}
    projections = retinal_projections(schedule, small, latent.eye_position, filters)
    shown_movie, shown_frame, shown_repeat = movie_frame_labels(schedule)
    frame_rate = 1.0 / float(np.median(np.diff(t)))
    excitability, latents = draw_excitability(
        c.n_neurons,
        behavior_signals(latent)[1],
        frame_rate,
        stream(c.seed, "mouse", c.mouse_id, "activity"),
        spontaneous_rate_hz=c.spontaneous_rate_hz,
        latent_sd=c.latent_sd,
        latent_shared_fraction=c.latent_shared_fraction,
        latent_count=c.latent_count,
        latent_behavior_correlation=c.latent_behavior_correlation,
    )
    rates, expected_rates, drive_scale = firing_rates(
        projections, pop, latent, shown_movie >= 0, excitability
    )
    del excitability
    drift = baseline_drift(
        c.n_neurons, len(t), frame_rate, stream(c.seed, "mouse", c.mouse_id, "drift"), c.drift_sd
    )
    traces = fluorescence_traces(
        rates,
        optics,
        t,
        stream(c.seed, "mouse", c.mouse_id, "noise"),
        noise_std=c.noise_std,
        poisson_spikes=c.poisson_spikes,
        code=stimulus_code(shown_movie, shown_frame, shown_repeat) if c.stimulus_code else None,
        nan_neurons=c.nan_neurons,
        dff_length_offset=c.dff_length_offset,
        expected_rates=expected_rates,
        drift=drift,
    )

    id_rng = stream(c.seed, "mouse", c.mouse_id, "ids")
    cell_ids = 517_300_000 + id_rng.choice(600_000, c.n_neurons, replace=False)
    roi_ids = 587_100_000 + id_rng.choice(600_000, c.n_neurons, replace=False)
    peak_dff = optics.dff_per_spike * optics.calcium_tau_decay * rates.max(axis=1)
    image = max_projection(
        rois, optics.baseline * (1 + peak_dff), stream(c.seed, "mouse", c.mouse_id, "image")
    )
    motion = _motion_offsets(len(t), id_rng)
    recording = SessionContents(
        c, schedule, templates, rois, cell_ids, roi_ids, image, traces, recorded, motion
    )
    corrected = traces.demixed - traces.r[:, None] * traces.neuropil
    truth = {
        "truth": traces.truth.astype(np.float32),
        "timestamps": t,
        "noise_sd": traces.noise_sd,
        "recorded_truth_correlation": _correlation(corrected, traces.truth),
        "cell_specimen_ids": cell_ids,
        "roi_centres_px": rois.centres,
        "latent_running_speed": latent.running_speed,
        "latent_pupil_area": latent.pupil_area,
        "latent_eye_position": latent.eye_position,
        "shown_movie": shown_movie,
        "shown_frame": shown_frame,
        "shown_repeat": shown_repeat,
        "drive_scale": drive_scale,
        "spatial_filters": filters,
        "temporal_kernels": temporal_kernels(pop),
        "simulation_shape": np.array([h, w]),
        "config_json": np.array(json.dumps(c.to_dict())),
        **pop.as_arrays("population_"),
        **latents.as_arrays("activity_"),
        **{f"optics_{k}": v for k, v in vars(optics).items()},
    }
    return recording, truth


def write_session(
    path: Path, config: SessionConfig, templates: dict[str, np.ndarray] | None = None
) -> Path:
    """Simulate the session described by ``config`` and write it.

    Parameters
    ----------
    path
        Target ``.nwb`` path; ``<stem>.truth.npz`` is written beside it. Both are written
        atomically (temporary files, then renames; the truth file only after the NWB file).
    config
        Settings of the session.
    templates
        Movie templates from `make_templates` (pass them to share one rendering between mice).

    Returns
    -------
    Path
        ``path``.
    """
    recording, truth = simulate_session(config, templates)
    with atomic_destination(truth_path(path)) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, **truth)
        write_nwb(path, recording)
    return Path(path)
