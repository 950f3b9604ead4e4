"""`MouseDataset`: one mouse's samples as float32 tensors, from a built or a Sensorium folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from brainenc.data.errors import DatasetIntegrityError
from brainenc.data.layout import (
    FOLDERS,
    MANIFEST,
    REBUILD_HINT,
    check_finite,
    load_array,
    manifest_value,
    read_manifest,
    read_statistics,
    verify_folder,
)
from brainenc.data.samples import SPLITS
from brainenc.data.transforms import Normaliser

VERIFY_MODES = ("none", "size", "cached", "hash")


class BuiltMouse:
    """A mouse folder written by `brainenc.data.build` (samples stored normalised).

    Opening it checks, before any sample is read: the manifest's structure, the shape it records
    for every sample file against the mouse's (N neurons, T frames, frame size), the trials
    table (one entry per sample, known split labels, the manifest's counts per split) and,
    unless `verify="none"`, the files themselves (`layout.verify_folder`). Every sample read
    is checked for its shape and for NaN or infinities.
    """

    layout = "brainenc"

    def __init__(self, folder: Path, verify: str):
        self.folder = folder
        self.manifest = read_manifest(folder)
        self.shapes = _sample_shapes(self.manifest, folder)
        samples = manifest_value(self.manifest, "samples", int, folder)
        _check_recorded_shapes(self.manifest, self.shapes, samples, folder)
        if verify != "none":
            verify_folder(folder, self.manifest, full=verify == "hash", cache=verify == "cached")
        trials = folder / "meta" / "trials"
        self.movie = _vector(trials / "movie.npy", samples).astype(str)
        self.clip = _vector(trials / "clip.npy", samples)
        self.repeat = _vector(trials / "repeat.npy", samples)
        self.split = _vector(trials / "split.npy", samples).astype(str)
        _check_splits(self.split, self.manifest, trials / "split.npy")
        neurons = folder / "meta" / "neurons"
        count = self.shapes["responses"][0]
        self.coordinates = _rows(neurons / "coordinates.npy", count)
        self.mean_responses = _rows(neurons / "mean_responses.npy", count)
        self.cell_specimen_ids = _rows(neurons / "cell_specimen_ids.npy", count)

    def __len__(self) -> int:
        return len(self.movie)

    def statistics(self) -> dict[str, dict[str, np.ndarray]]:
        """Training statistics `meta/statistics/<variable>/<stat>.npy`, refusing non-finite ones."""
        return read_statistics(self.folder / "meta" / "statistics")

    def normaliser(self) -> Normaliser:
        mode = manifest_value(self.manifest, "normalisation", str, self.folder)
        return Normaliser.from_statistics(self.statistics(), mode)

    def arrays(self, index: int) -> dict[str, np.ndarray]:
        """The four arrays of sample `index` (memory-mapped), checked for shape and finiteness."""
        arrays = {}
        for name, folder in FOLDERS.items():
            path = self.folder / "data" / folder / f"{index}.npy"
            values = load_array(path, mmap=True)
            if values.shape != self.shapes[name]:
                raise DatasetIntegrityError(
                    f"{path} has shape {values.shape}, but every {name} sample of this mouse is "
                    f"{self.shapes[name]} (from {MANIFEST}); the file was replaced. {REBUILD_HINT}"
                )
            arrays[name] = check_finite(values, path)
        return arrays


def _sample_shapes(manifest: dict[str, Any], folder: Path) -> dict[str, tuple[int, ...]]:
    """Shape of each sample array of a built mouse, from the manifest's counts."""
    neurons = manifest_value(manifest, "neurons", int, folder)
    frames = manifest_value(manifest, "frames_per_clip", int, folder)
    height, width = _frame_size(manifest, folder)
    return {
        "video": (1, frames, height, width),
        "behavior": (2, frames),
        "pupil_center": (2, frames),
        "responses": (neurons, frames),
    }


def _frame_size(manifest: dict[str, Any], folder: Path) -> tuple[int, int]:
    size = manifest_value(manifest, "frame_size", list, folder)
    if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise DatasetIntegrityError(
            f"{folder / MANIFEST}: 'frame_size' is {size!r}, expected [height, width]. {REBUILD_HINT}"
        )
    return size[0], size[1]


def _check_recorded_shapes(
    manifest: dict[str, Any], shapes: dict[str, tuple[int, ...]], samples: int, folder: Path
) -> None:
    """Every sample file is in the manifest, recorded with the mouse's sample shape."""
    arrays = manifest["arrays"]
    for name, sub in FOLDERS.items():
        for index in range(samples):
            relative = f"data/{sub}/{index}.npy"
            record = arrays.get(relative)
            if record is None:
                raise DatasetIntegrityError(
                    f"{folder / MANIFEST} lists no {relative}, though the mouse has {samples} "
                    f"samples. {REBUILD_HINT}"
                )
            if tuple(record.get("shape", ())) != shapes[name]:
                raise DatasetIntegrityError(
                    f"{folder / relative}: the manifest records shape {record.get('shape')}, but "
                    f"every {name} sample of this mouse is {shapes[name]} (neurons, frames_per_clip "
                    f"and frame_size in {MANIFEST}). {REBUILD_HINT}"
                )


def _vector(path: Path, length: int) -> np.ndarray:
    values = load_array(path)
    if values.shape != (length,):
        raise DatasetIntegrityError(
            f"{path} has shape {values.shape}, expected ({length},): one entry per sample. "
            f"{REBUILD_HINT}"
        )
    return values


def _rows(path: Path, count: int) -> np.ndarray:
    values = load_array(path)
    if values.ndim == 0 or values.shape[0] != count:
        raise DatasetIntegrityError(
            f"{path} has shape {values.shape}, expected {count} rows (one per neuron). "
            f"{REBUILD_HINT}"
        )
    return values


def _check_splits(split: np.ndarray, manifest: dict[str, Any], path: Path) -> None:
    """Split labels are known and as many per split as the manifest's `counts` say."""
    unknown = sorted(set(split.tolist()) - set(SPLITS))
    if unknown:
        raise DatasetIntegrityError(
            f"{path} holds unknown split label(s) {unknown}; expected {list(SPLITS)}. "
            f"{REBUILD_HINT}"
        )
    counts = manifest.get("counts")
    if not isinstance(counts, dict):
        return
    found = {name: int(np.sum(split == name)) for name in SPLITS}
    expected = {name: (counts.get(name) or {}).get("total") for name in SPLITS}
    if found != expected:
        raise DatasetIntegrityError(
            f"{path} has {found} samples per split, the manifest says {expected}. {REBUILD_HINT}"
        )


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
            self.indices = np.flatnonzero(self.mouse.split == split)
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
        verify_folder(self.mouse.folder, self.mouse.manifest, full=full)

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
        sample.update(
            mouse_id=self.mouse_id,
            movie=str(self.mouse.movie[index]),
            clip=int(self.mouse.clip[index]),
            repeat=int(self.mouse.repeat[index]),
        )
        return sample


def open_mouse(folder: Path, verify: str) -> Any:
    """The reader for a mouse folder, chosen by its layout."""
    if (folder / MANIFEST).is_file():
        return BuiltMouse(folder, verify)
    if (folder / "meta" / "trials" / "tiers.npy").is_file():
        from brainenc.data.sensorium import SensoriumMouse

        return SensoriumMouse(folder)
    raise DatasetIntegrityError(
        f"{folder} is neither a built brainenc mouse folder (no {MANIFEST}) nor a Sensorium "
        "2023 folder (no meta/trials/tiers.npy). Build it with `python -m brainenc.data.build`, "
        "or point data.root at the folder that holds the mouse folders."
    )


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float32))
