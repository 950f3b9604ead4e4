from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sample_factory import synthetic_samples

from brainenc.data.errors import MissingDataError
from brainenc.data.statistics import compute_statistics, impute_missing
from brainenc.data.transforms import Normaliser, response_precision

NAMES = {
    "behavior": ["pupil_size", "running_speed"],
    "pupil_center": ["x", "y"],
    "responses": [f"cell {i}" for i in range(5)],
}


def test_nan_replaced_by_training_mean_only(samples):
    behavior = samples.behavior.copy()
    responses = samples.responses.copy()
    behavior[0, 1, :3] = np.nan  # running speed gap in a training sample
    behavior[-1, 0, :] = np.nan  # blink over a whole test sample
    responses[-1, 2, 0] = np.nan
    responses[-1] += 1e6  # test data must not move the fill values
    filled, report = impute_missing(
        samples.with_arrays(behavior=behavior, responses=responses), NAMES
    )
    train = samples.split == "train"
    speed_mean = np.nanmean(behavior[train, 1])
    np.testing.assert_allclose(filled.behavior[0, 1, :3], speed_mean, rtol=1e-6)
    np.testing.assert_allclose(filled.behavior[-1, 0], np.nanmean(behavior[train, 0]), rtol=1e-6)
    np.testing.assert_allclose(filled.responses[-1, 2, 0], responses[train, 2].mean(), rtol=1e-6)
    assert report["behavior"]["replaced"] == 3 + 8 and report["responses"]["replaced"] == 1
    assert np.isfinite(filled.behavior).all() and np.isfinite(filled.responses).all()


def test_neuron_without_training_values_is_an_error(samples):
    responses = samples.responses.copy()
    responses[samples.split == "train", 3] = np.nan
    with pytest.raises(MissingDataError, match=r"responses: 1 .*\(cell 3\)"):
        impute_missing(samples.with_arrays(responses=responses), NAMES)


@pytest.mark.parametrize("mode", ["seed", "viv1t"])
def test_statistics_come_from_the_training_split_only(samples, mode):
    stats = compute_statistics(samples, mode)
    changed = samples.with_arrays(
        behavior=np.where((samples.split != "train")[:, None, None], 1e4, samples.behavior),
        responses=np.where((samples.split != "train")[:, None, None], -1e4, samples.responses),
    )
    again = compute_statistics(changed, mode)
    for name in stats:
        for stat in stats[name]:
            np.testing.assert_array_equal(stats[name][stat], again[name][stat])
    train = samples.split == "train"
    if mode == "seed":
        assert stats["video"]["mean"].shape == () and stats["behavior"]["min"].shape == (2,)
        assert stats["responses"]["std"].shape == (5,)
        np.testing.assert_allclose(
            stats["responses"]["std"], samples.responses[train].std(axis=(0, 2)), rtol=1e-5
        )
        np.testing.assert_allclose(stats["video"]["max"], samples.video_clips.max())
    else:
        assert stats["video"]["mean"].shape == (8, 4, 6)
        assert stats["behavior"]["max"].shape == (2, 8) and stats["responses"]["std"].shape == (
            5,
            8,
        )
        np.testing.assert_allclose(
            stats["pupil_center"]["min"], samples.pupil_center[train].min(axis=0), rtol=1e-6
        )
        # video statistics over training samples: every clip appears 7 times
        videos = samples.video_clips[samples.video_index[train]]
        np.testing.assert_allclose(stats["video"]["std"], videos.std(axis=0), rtol=1e-4)


def test_viv1t_formulas_exactly(samples):
    stats = compute_statistics(samples, "viv1t")
    normaliser = Normaliser.from_statistics(stats, "viv1t")
    video = samples.video_clips[0][None]  # (1, T, h, w)
    mean, std = stats["video"]["mean"], stats["video"]["std"]
    np.testing.assert_allclose(
        normaliser.forward("video", video), (video - mean) / (std - mean), rtol=1e-4, atol=1e-5
    )
    b = samples.behavior[0]
    lo, hi = stats["behavior"]["min"], stats["behavior"]["max"]
    np.testing.assert_allclose(normaliser.forward("behavior", b), (b - lo) / (hi - lo), rtol=1e-5)
    r = samples.responses[0]
    np.testing.assert_allclose(
        normaliser.forward("responses", r),
        r * response_precision(stats["responses"]["std"]),
        rtol=1e-5,
    )


def test_response_precision_floor():
    std = np.array([[0.0, 1e-4, 1.0, 3.0]])
    floor = 0.01 * std.mean()
    np.testing.assert_allclose(response_precision(std), [[1 / floor, 1 / floor, 1.0, 1 / 3]])


def test_constant_channels_are_shifted_not_divided_by_zero():
    samples = synthetic_samples()
    constant = samples.with_arrays(pupil_center=np.zeros_like(samples.pupil_center))
    normaliser = Normaliser.from_statistics(compute_statistics(constant, "seed"), "seed")
    assert normaliser.degenerate_counts["pupil_center"] == 2
    np.testing.assert_array_equal(normaliser.forward("pupil_center", constant.pupil_center[0]), 0)


@settings(max_examples=25, deadline=None)
@given(mode=st.sampled_from(["seed", "viv1t"]), seed=st.integers(0, 2**16), start=st.integers(0, 3))
def test_round_trip_both_modes(mode, seed, start):
    samples = synthetic_samples(seed=seed)
    normaliser = Normaliser.from_statistics(compute_statistics(samples, mode), mode)
    raw = {
        "video": samples.video_clips[1][None, start:],
        "behavior": samples.behavior[-1][:, start:],
        "pupil_center": samples.pupil_center[3][:, start:],
        "responses": samples.responses[12][:, start:],
    }
    for name, value in raw.items():
        forward = normaliser.forward(name, value, start=start)
        assert forward.shape == value.shape and forward.dtype == np.float32
        back = normaliser.inverse(name, forward, start=start)
        np.testing.assert_allclose(back, value, rtol=1e-4, atol=1e-3)
        batch = torch.from_numpy(np.stack([forward, forward]))
        back_torch = normaliser.inverse(name, batch, start=start)
        np.testing.assert_allclose(back_torch[1].numpy(), value, rtol=1e-4, atol=1e-3)


def test_per_frame_statistics_refuse_frames_they_do_not_cover(samples):
    normaliser = Normaliser.from_statistics(compute_statistics(samples, "viv1t"), "viv1t")
    with pytest.raises(ValueError, match="outside the 8 frame indices"):
        normaliser.forward("behavior", samples.behavior[0], start=2)
