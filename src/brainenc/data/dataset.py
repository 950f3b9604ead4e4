"""`MouseDataset`: one mouse's samples as float32 tensors, from a built or a Sensorium folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from brainenc.data.errors import DatasetIntegrityError
from brainenc.data.mouse_folder import MANIFEST, VERIFY_MODES, MouseFolder
from brainenc.data.transforms import Normaliser


class MouseDataset(Dataset):
    """Samples of one mouse and split, each a dict of float32 tensors and labels.

    Parameters
    ----------
    folder
        A mouse folder built by `brainenc.data.build` (has `manifest.json`) or a Sensorium 2023
        recording folder (has `meta/trials/tiers.npy`; normalised on the fly with ViV1T's
        `transform_mode=2` statistics of its train tier).
    split
        "train", "validation", "test" (Sensorium also "test_bonus"), or None for all samples.
    mouse_id
        Name of the mouse in samples and models; default the folder name.
    verify
        Integrity check of a built folder on open: "cached" (sizes, and the sha256 of every file
        whose size or mtime changed since it was last verified: catches same-size edits at the
        cost of a `stat` per unchanged file), "size" (file sizes only), "hash" (sha256 of every
        file) or "none".
    crop_frames
        Return a random window of this many frames from longer samples (training on Sensorium
        trials); None returns whole samples.

    Items
    -----
    video (1, T, h, w), behavior (2, T) [pupil size, running speed], pupil_center (2, T) [x, y],
    responses (N, T): float32 tensors, normalised. mouse_id: str; movie: str; clip, repeat: int.
    """

    def __init__(
        self,
        folder: str | Path,
        split: str | None = "train",
        mouse_id: str | None = None,
        verify: str = "cached",
        crop_frames: int | None = None,
    ):
        folder = Path(folder)
        if verify not in VERIFY_MODES:
            raise ValueError(f"verify must be one of {VERIFY_MODES}, got '{verify}'.")
        self.mouse = open_mouse(folder, verify)
        self.mouse_id = mouse_id or folder.name
        self.split = split
        if split is None:
            self.indices = np.arange(len(self.mouse))
        else:
            self.indices = np.flatnonzero(self.mouse.trials.split == split)
        self.crop_frames = crop_frames

    @property
    def num_neurons(self) -> int:
        return int(self.mouse.coordinates.shape[0])

    @property
    def coordinates(self) -> np.ndarray:
        """(N, 3) neuron coordinates (x, y, depth)."""
        return self.mouse.coordinates

    @property
    def mean_responses(self) -> np.ndarray:
        """(N,) mean normalised response per neuron over the training split."""
        return self.mouse.mean_responses

    def normaliser(self) -> Normaliser:
        """The transforms used for this mouse; `.inverse(name, x)` maps back to raw units."""
        return self.mouse.normaliser()

    def verify(self, full: bool = True) -> None:
        """Check the folder against its manifest (sha256 of every file when `full`)."""
        if self.mouse.layout != "brainenc":
            raise ValueError(f"{self.mouse.folder} is a Sensorium folder without a manifest.")
        self.mouse.verify(full=full)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> dict[str, Any]:
        index = int(self.indices[item])
        arrays = self.mouse.arrays(index)
        start = 0
        frames = arrays["responses"].shape[-1]
        if self.crop_frames is not None and frames > self.crop_frames:
            start = int(torch.randint(frames - self.crop_frames + 1, ()).item())
        stop = start + (self.crop_frames or frames)
        sample: dict[str, Any] = {
            "video": _tensor(arrays["video"][:, start:stop]),
            **{
                k: _tensor(arrays[k][:, start:stop])
                for k in ("behavior", "pupil_center", "responses")
            },
        }
        trials = self.mouse.trials
        sample.update(
            mouse_id=self.mouse_id,
            movie=str(trials.movie[index]),
            clip=int(trials.clip[index]),
            repeat=int(trials.repeat[index]),
        )
        return sample


def open_mouse(folder: Path, verify: str) -> Any:
    """The reader for a mouse folder, chosen by its layout: a checked `MouseFolder` for a built
    folder, a `SensoriumMouse` for a Sensorium 2023 one."""
    if (folder / MANIFEST).is_file():
        return MouseFolder(folder, verify)
    from brainenc.data.sensorium import SensoriumMouse, is_sensorium_folder

    if is_sensorium_folder(folder):
        return SensoriumMouse(folder)
    raise DatasetIntegrityError(
        f"{folder} is neither a built brainenc mouse folder (no {MANIFEST}) nor a Sensorium "
        "2023 folder (no meta/trials/tiers.npy). Build it with `python -m brainenc.data.build`, "
        "or point data.root at the folder that holds the mouse folders."
    )


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float32))
