"""The V1 model: eye shifts, receptive fields, temporal kernels, gain and fluorescence."""

from __future__ import annotations

import numpy as np
import pytest

from brainenc.insilico.behavior import Behavior, record_behavior, simulate_behavior
from brainenc.insilico.fluorescence import draw_optics, fluorescence_traces, stimulus_code
from brainenc.insilico.population import (
    draw_population,
    firing_rates,
    spatial_filters,
    temporal_kernels,
)
from brainenc.insilico.retina import _shift_frames, screen_grid
from brainenc.insilico.rois import FOV_PX, place_rois


def test_integer_eye_shift_translates_the_image_with_grey_outside() -> None:
    frames = np.arange(2 * 6 * 8, dtype=np.float32).reshape(2, 6, 8) + 1
    shifted = _shift_frames(frames, np.array([0.0, 2.0]), np.array([1.0, -3.0]))
    np.testing.assert_array_equal(shifted[0, :, :-1], frames[0, :, 1:])
    assert (shifted[0, :, -1] == 0).all()
    np.testing.assert_array_equal(shifted[1, :-2, 3:], frames[1, 2:, :-3])
    half = _shift_frames(frames, np.array([0.0, 0.0]), np.array([0.5, 0.5]))
    np.testing.assert_allclose(half[0, :, 0], (frames[0, :, 0] + frames[0, :, 1]) / 2)


def test_rois_are_binary_non_overlapping_and_inside_the_field_of_view() -> None:
    rois = place_rois(227, np.random.default_rng(0))
    flat = np.concatenate([ys * FOV_PX + xs for ys, xs in rois.pixels])
    assert len(np.unique(flat)) == len(flat)  # no pixel belongs to two ROIs
    areas = np.array([len(ys) for ys, _ in rois.pixels])
    assert 60 <= areas.min() and areas.max() <= 260
    mask = rois.mask(5)
    assert mask.shape == (FOV_PX, FOV_PX) and set(np.unique(mask)) == {0.0, 1.0}
    assert mask.sum() == areas[5]
    assert (rois.centres > 0).all() and (rois.centres < FOV_PX).all()
    assert len(place_rois(1000, np.random.default_rng(1)).pixels) == 1000


def test_receptive_fields_follow_retinotopy_and_have_unit_norm() -> None:
    centres = np.random.default_rng(1).uniform(0, 512, (300, 2))
    pop = draw_population(centres, np.random.default_rng(2))
    rf = np.stack([pop.rf_azimuth, pop.rf_altitude], axis=1)
    fit = np.linalg.lstsq(np.c_[centres, np.ones(300)], rf, rcond=None)
    explained = 1 - fit[1].sum() / ((rf - rf.mean(0)) ** 2).sum()
    assert explained > 0.15  # neighbours in cortex see neighbouring parts of the screen
    filters = spatial_filters(pop, *screen_grid(38, 76))
    even = filters[:, :300]
    np.testing.assert_allclose(np.linalg.norm(even, axis=0), 1.0, rtol=1e-4)
    assert (np.abs(filters[:, 300:][:, ~pop.is_gabor]) == 0).all()  # DoG cells: no odd part
    kernels = temporal_kernels(pop)
    np.testing.assert_allclose(np.linalg.norm(kernels, axis=1), 1.0)
    assert (np.argmax(kernels, axis=1) > 0).all()  # a response latency, not instantaneous


def _flat_behavior(n: int, running: float) -> Behavior:
    return Behavior(
        np.full(n, running),
        np.full(n, 2000.0) * (1 + 0.01 * np.sin(np.arange(n))),
        np.zeros((n, 2)),
    )


def test_running_raises_the_gain_of_cells_with_positive_coupling() -> None:
    rng = np.random.default_rng(3)
    pop = draw_population(rng.uniform(0, 512, (50, 2)), rng)
    drive = rng.standard_normal((1_000, 100)).astype(np.float32)
    movie = np.ones(1_000, dtype=bool)
    still, _, _ = firing_rates(drive, pop, _flat_behavior(1_000, 0.0), movie)
    running, _, _ = firing_rates(drive, pop, _flat_behavior(1_000, 30.0), movie)
    ratio = running.mean(axis=1) / still.mean(axis=1)
    assert (ratio[pop.beta_run > 0.2] > 1.1).all()
    assert (ratio[pop.beta_run < -0.2] < 1.0).all()


def test_behavior_is_recorded_on_its_own_clocks_with_gaps() -> None:
    t = 4.0 + np.cumsum(np.full(20_000, 1 / 30.1))
    latent = simulate_behavior(t, np.random.default_rng(4))
    rec = record_behavior(latent, t, np.random.default_rng(5))
    assert rec.running_timestamps[0] in t and rec.running_timestamps[0] != t[0]
    assert len(rec.running_speed) < len(t) and np.isnan(rec.running_speed).any()
    assert not np.isin(rec.eye_timestamps, t).all()  # the eye camera has its own clock
    nan = np.isnan(rec.pupil_area)
    assert 0.005 < nan.mean() < 0.1
    assert (np.isnan(rec.pupil_location_spherical[:, 0]) == nan).all()
    finite = ~nan
    x_cm = 15.0 * np.tan(np.deg2rad(rec.pupil_location_spherical[finite, 0]))
    np.testing.assert_allclose(rec.pupil_location_cm[finite, 0], x_cm)
    assert 0.1 < (latent.running_speed > 2).mean() < 0.7


@pytest.mark.parametrize("poisson", [False, True], ids=["rates", "spikes"])
def test_corrected_trace_is_truth_plus_noise_at_the_configured_level(poisson: bool) -> None:
    rng = np.random.default_rng(6)
    n, t = 30, 6_000
    rates = np.abs(rng.standard_normal((n, t))).cumsum(axis=1) % 20
    timestamps = np.arange(t) / 30.0
    optics = draw_optics(n, rng)
    correlations = []
    for noise in (0.05, 0.3):
        tr = fluorescence_traces(
            rates,
            optics,
            timestamps,
            np.random.default_rng(7),
            noise_std=noise,
            poisson_spikes=poisson,
        )
        corrected = tr.demixed - tr.r[:, None] * tr.neuropil
        np.testing.assert_allclose(tr.noise_sd, noise * optics.noise_scale * optics.baseline)
        r = [np.corrcoef(corrected[i], tr.truth[i])[0, 1] for i in range(n)]
        if not poisson:
            sd = tr.truth.std(axis=1)
            expected = sd / np.sqrt(sd**2 + tr.noise_sd**2)
            np.testing.assert_allclose(r, expected, atol=0.03)
        correlations.append(np.mean(r))
    assert correlations[0] > correlations[1] + 0.1


def test_stimulus_code_is_exact_through_the_neuropil_correction() -> None:
    movie = np.array([-1, 0, 0, 1, 1, -1])
    frame = np.array([-1, 0, 899, 0, 3599, -1])
    repeat = np.array([-1, 0, 9, 0, 9, -1])
    code = stimulus_code(movie, frame, repeat)
    np.testing.assert_array_equal(code, [-1, 1_000_000, 1_090_899, 3_000_000, 3_093_599, -1])
    rng = np.random.default_rng(8)
    optics = draw_optics(4, rng)
    tr = fluorescence_traces(
        np.ones((4, 6)), optics, np.arange(6) / 30.0, rng, noise_std=0.1, code=code
    )
    np.testing.assert_array_equal(tr.demixed - tr.neuropil * tr.r[:, None], np.tile(code, (4, 1)))
