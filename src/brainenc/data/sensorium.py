"""Sensorium 2023 recording folders read through `MouseDataset` (viv1t.md §9).

Layout: `data/{videos,responses,behavior,pupil_center}/<trial>.npy` with videos (36, 64, T)
NaN-padded after the trial ends, responses (N, T), behavior (2, T), pupil_center (2, T);
`meta/neurons/cell_motor_coordinates.npy` (N, 3); `meta/trials/tiers.npy`. A trial's length is
the index of the first NaN in `video[0, 0, :]`; frames beyond 300 are dropped (ViV1T's
`max_frame`).

Samples are normalised on the fly exactly as ViV1T `transform_mode=2` with statistics
recomputed from the `train` tier (NaN-aware, per frame index, first 300 frames). They are
computed once and cached atomically in `<folder>/meta/statistics/brainenc_viv1t/`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainenc.data.errors import DatasetIntegrityError
from brainenc.data.mouse_folder import (
    FOLDERS,
    MANIFEST,
    Trials,
    load_array,
    read_manifest,
    read_statistics,
)
from brainenc.data.transforms import Normaliser
from brainenc.data.writer import FolderWriter

MAX_FRAMES = 300
CACHE = Path("meta") / "statistics" / "brainenc_viv1t"
TIERS_FILE = Path("meta") / "trials" / "tiers.npy"
# Sensorium tier label -> split name used by brainenc.
TIERS = {
    "train": "train",
    "oracle": "validation",
    "live_test_main": "test",
    "final_test_main": "test",
    "live_test_bonus": "test_bonus",
    "final_test_bonus": "test_bonus",
}


def is_sensorium_folder(folder: Path) -> bool:
    """True when ``folder`` has the layout of a Sensorium 2023 recording (its trial tiers)."""
    return (folder / TIERS_FILE).is_file()


class SensoriumMouse:
    """One Sensorium 2023 recording folder, normalised with its train-tier statistics."""

    layout = "sensorium"

    def __init__(self, folder: Path):
        self.folder = folder
        tiers = np.load(folder / TIERS_FILE).astype(str)
        self.trial_ids = np.array(
            sorted(int(p.stem) for p in (folder / "data" / "videos").glob("*.npy"))
        )
        if not np.array_equal(self.trial_ids, np.arange(len(tiers))):
            raise DatasetIntegrityError(
                f"{folder}: expected video files 0..{len(tiers) - 1}.npy, one per entry of "
                f"meta/trials/tiers.npy, found {len(self.trial_ids)} files; the download is "
                "incomplete. Extract the archive again."
            )
        self.trials = Trials(
            movie=np.full(len(tiers), "sensorium"),
            clip=self.trial_ids,
            repeat=np.full(len(tiers), -1),
            split=np.array([TIERS.get(t, "none") for t in tiers]),
        )
        coordinates = np.load(folder / "meta" / "neurons" / "cell_motor_coordinates.npy")
        self.coordinates = coordinates.astype(np.float32)
        # computed (first time) or loaded here, before DataLoader workers copy the object
        self._statistics, self.mean_responses = self._cached_statistics()
        self._normaliser = Normaliser.from_statistics(self._statistics, "viv1t")

    def __len__(self) -> int:
        return len(self.trial_ids)

    def statistics(self) -> dict[str, dict[str, np.ndarray]]:
        return self._statistics

    def normaliser(self) -> Normaliser:
        return self._normaliser

    def raw_arrays(self, index: int) -> dict[str, np.ndarray]:
        """Un-normalised trial `index` cut to its length: video (1, T, 36, 64), others (C, T)."""
        trial = self.trial_ids[index]
        data = self.folder / "data"
        video = np.load(data / "videos" / f"{trial}.npy", mmap_mode="r")
        nan = np.flatnonzero(np.isnan(video[0, 0, :MAX_FRAMES]))
        frames = int(nan[0]) if nan.size else min(video.shape[-1], MAX_FRAMES)
        out = {"video": np.moveaxis(np.asarray(video[..., :frames], np.float32), -1, 0)[None]}
        for name in ("behavior", "pupil_center", "responses"):
            values = np.load(data / FOLDERS[name] / f"{trial}.npy", mmap_mode="r")
            out[name] = np.asarray(values[:, :frames], np.float32)
        return out

    def arrays(self, index: int) -> dict[str, np.ndarray]:
        return {k: self._normaliser.forward(k, v) for k, v in self.raw_arrays(index).items()}

    def _cached_statistics(self) -> tuple[dict[str, dict[str, np.ndarray]], np.ndarray]:
        cache = self.folder / CACHE
        if not (cache / MANIFEST).is_file():
            statistics, mean_responses = self._train_statistics()
            with FolderWriter(cache) as writer:
                for name, stats in statistics.items():
                    for stat, value in stats.items():
                        writer.save(f"{FOLDERS[name]}/{stat}.npy", value)
                writer.save("mean_responses.npy", mean_responses)
                writer.commit({"source": str(self.folder), "tier": "train"}, overwrite=True)
        read_manifest(cache)
        return read_statistics(cache), load_array(cache / "mean_responses.npy")

    def _train_statistics(self) -> tuple[dict[str, dict[str, np.ndarray]], np.ndarray]:
        """NaN-aware per-frame statistics over train trials, and mean normalised responses."""
        accumulators: dict[str, _FrameAccumulator] = {}
        train = np.flatnonzero(self.trials.split == "train")
        if train.size == 0:
            raise DatasetIntegrityError(f"{self.folder}: no trial has tier 'train'.")
        for index in train:
            for name, values in self.raw_arrays(index).items():
                array = values[0] if name == "video" else values
                accumulators.setdefault(name, _FrameAccumulator(array.shape, name))
                accumulators[name].add(array)
        statistics = {name: acc.result() for name, acc in accumulators.items()}
        response = accumulators["responses"]
        precision = Normaliser.from_statistics(statistics, "viv1t").transforms["responses"].scale
        frames = precision.shape[-1]
        mean = (precision * response.total[:, :frames]).sum(-1)
        mean_responses = mean / np.maximum(response.count[:, :frames].sum(-1), 1)
        return statistics, mean_responses.astype(np.float32)


class _FrameAccumulator:
    """Running count, sum, sum of squares, min and max per element over trials of any length."""

    def __init__(self, shape: tuple[int, ...], name: str):
        time_axis = 0 if name == "video" else 1
        full = list(shape)
        full[time_axis] = MAX_FRAMES
        self.time_axis = time_axis
        self.count = np.zeros(full)
        self.total = np.zeros(full)
        self.squares = np.zeros(full)
        self.low = np.full(full, np.inf)
        self.high = np.full(full, -np.inf)

    def add(self, values: np.ndarray) -> None:
        index = [slice(None)] * values.ndim
        index[self.time_axis] = slice(0, values.shape[self.time_axis])
        index = tuple(index)
        finite = np.isfinite(values)
        clean = np.where(finite, values, 0.0)
        self.count[index] += finite
        self.total[index] += clean
        self.squares[index] += clean.astype(np.float64) ** 2
        self.low[index] = np.fmin(self.low[index], np.where(finite, values, np.inf))
        self.high[index] = np.fmax(self.high[index], np.where(finite, values, -np.inf))

    def result(self) -> dict[str, np.ndarray]:
        seen = np.any(
            self.count > 0, axis=tuple(i for i in range(self.count.ndim) if i != self.time_axis)
        )
        keep = [slice(None)] * self.count.ndim
        keep[self.time_axis] = slice(0, int(np.flatnonzero(seen).max()) + 1)
        keep = tuple(keep)
        count = np.maximum(self.count[keep], 1)
        mean = self.total[keep] / count
        std = np.sqrt(np.maximum(self.squares[keep] / count - mean**2, 0.0))
        return {
            "mean": mean.astype(np.float32),
            "std": std.astype(np.float32),
            "min": np.where(np.isfinite(self.low[keep]), self.low[keep], 0).astype(np.float32),
            "max": np.where(np.isfinite(self.high[keep]), self.high[keep], 0).astype(np.float32),
        }
