from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from brainenc.data.dataset import MouseDataset
from brainenc.data.errors import DatasetIntegrityError
from brainenc.data.transforms import response_precision

LENGTHS = [20, 15, 18, 20, 12, 20]
TIERS = ["train", "train", "train", "train", "oracle", "live_test_main"]
FILE_FRAMES, NEURONS = 24, 4


def sensorium_folder(root: Path) -> Path:
    """A tiny recording in the exact Sensorium 2023 layout (NaN padding after each trial)."""
    rng = np.random.default_rng(0)
    folder = root / "dynamic29156-11-10-Video-tiny"
    for name in ("videos", "responses", "behavior", "pupil_center"):
        (folder / "data" / name).mkdir(parents=True)
    for trial, length in enumerate(LENGTHS):
        arrays = {
            "videos": rng.uniform(0, 255, (36, 64, FILE_FRAMES)),
            "responses": rng.gamma(1.0, 1.0, (NEURONS, FILE_FRAMES)),
            "behavior": rng.uniform([[40], [0]], [[60], [20]], (2, FILE_FRAMES)),
            "pupil_center": rng.uniform(120, 180, (2, FILE_FRAMES)),
        }
        for name, array in arrays.items():
            array[..., length:] = np.nan
            np.save(folder / "data" / name / f"{trial}.npy", array)
    (folder / "meta" / "neurons").mkdir(parents=True)
    (folder / "meta" / "trials").mkdir(parents=True)
    coordinates = rng.integers(0, 600, (NEURONS, 3)).astype(np.int64)
    np.save(folder / "meta" / "neurons" / "cell_motor_coordinates.npy", coordinates)
    np.save(folder / "meta" / "trials" / "tiers.npy", np.array(TIERS))
    return folder


def raw(folder: Path, name: str, trial: int) -> np.ndarray:
    return np.load(folder / "data" / name / f"{trial}.npy")


def test_sensorium_folder_served_with_viv1t_statistics_of_the_train_tier(tmp_path):
    folder = sensorium_folder(tmp_path)
    train = MouseDataset(folder, split="train")
    assert len(train) == 4 and train.mouse_id == folder.name and train.num_neurons == NEURONS
    sample = train[1]
    assert sample["video"].shape == (1, 15, 36, 64) and sample["video"].dtype == torch.float32
    assert sample["behavior"].shape == (2, 15) and sample["responses"].shape == (NEURONS, 15)
    assert sample["movie"] == "sensorium" and sample["clip"] == 1
    # behaviour: min-max per channel and frame index over train trials, NaN padding ignored
    behaviors = np.stack([raw(folder, "behavior", t) for t in range(4)])[..., :20]
    low, high = np.nanmin(behaviors, axis=0), np.nanmax(behaviors, axis=0)
    expected = (behaviors[1, :, :15] - low[:, :15]) / (high[:, :15] - low[:, :15])
    np.testing.assert_allclose(sample["behavior"].numpy(), expected, rtol=1e-5, atol=1e-6)
    # frames 18-19 exist only in trials 0 and 3, frame 17 also in trial 2
    assert np.isfinite(train[0]["behavior"].numpy()).all()
    # video: (v - mean) / (std - mean) per pixel and frame
    videos = np.stack([np.moveaxis(raw(folder, "videos", t), -1, 0)[:20] for t in range(4)])
    mean, std = np.nanmean(videos, axis=0), np.nanstd(videos, axis=0)
    video = np.moveaxis(raw(folder, "videos", 2), -1, 0)[:18]
    np.testing.assert_allclose(
        train[2]["video"][0].numpy(),
        (video - mean[:18]) / (std[:18] - mean[:18]),
        rtol=2e-3,
        atol=1e-4,
    )
    # responses: x precision with the 1 % floor
    responses = np.stack([raw(folder, "responses", t) for t in range(4)])[..., :20]
    precision = response_precision(np.nanstd(responses, axis=0))
    np.testing.assert_allclose(
        train[3]["responses"].numpy(), responses[3] * precision, rtol=1e-4, atol=1e-6
    )
    assert train.mean_responses.shape == (NEURONS,)
    np.testing.assert_allclose(
        train.coordinates[:, :2], np.load(folder / "meta/neurons/cell_motor_coordinates.npy")[:, :2]
    )


def test_sensorium_splits_crop_and_cached_statistics(tmp_path):
    folder = sensorium_folder(tmp_path)
    validation = MouseDataset(folder, split="validation")
    test = MouseDataset(folder, split="test")
    assert len(validation) == 1 and validation[0]["responses"].shape == (NEURONS, 12)
    assert len(test) == 1 and test[0]["clip"] == 5
    cache = folder / "meta" / "statistics" / "brainenc_viv1t" / "manifest.json"
    assert cache.is_file()
    cropped = MouseDataset(folder, split="train", crop_frames=10)
    full = MouseDataset(folder, split="train")[0]["behavior"]
    for seed in range(5):
        torch.manual_seed(seed)
        window = cropped[0]["behavior"]
        torch.manual_seed(seed)
        start = int(torch.randint(20 - 10 + 1, ()).item())
        torch.testing.assert_close(window, full[:, start : start + 10])


def test_incomplete_sensorium_folder_is_an_error(tmp_path):
    folder = sensorium_folder(tmp_path)
    (folder / "data" / "videos" / "3.npy").unlink()
    with pytest.raises(DatasetIntegrityError, match="incomplete"):
        MouseDataset(folder)
    with pytest.raises(DatasetIntegrityError, match="neither a built brainenc mouse folder"):
        MouseDataset(tmp_path)
