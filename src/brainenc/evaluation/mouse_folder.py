"""Read-only access to the responses and trial metadata of one built mouse folder.

Reads the folder contract of docs/design.md directly with NumPy (memory-mapped responses), so
scoring needs neither torch nor the dataset builder::

    <root>/<mouse_id>/data/responses/<i>.npy      float32 (N, T)
    <root>/<mouse_id>/data/videos/<i>.npy         float32 (1, T, H, W)
    <root>/<mouse_id>/data/{behavior,pupil_center}/<i>.npy   float32 (2, T)
    <root>/<mouse_id>/meta/trials/{movie,clip,repeat,split}.npy
    <root>/<mouse_id>/meta/session/max_projection.npy, meta/neurons/roi_pixel_centers.npy
    <root>/<mouse_id>/manifest.json
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainenc.data.layout import FOLDERS

SPLITS = ("train", "validation", "test")
REBUILD_HINT = "rebuild it with `python -m brainenc.data.build`"


@dataclass(frozen=True)
class Trials:
    """Per-sample metadata, one entry per sample index i (all arrays ``(S,)``)."""

    movie: np.ndarray
    clip: np.ndarray
    repeat: np.ndarray
    split: np.ndarray


def _load_meta(path: Path, kind: str) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"missing {path}: not a built mouse folder; {REBUILD_HINT}")
    try:
        values = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise ValueError(
            f"{path} holds Python objects; expected a {kind} array saved without pickling; "
            f"{REBUILD_HINT}"
        ) from error
    if values.ndim != 1:
        raise ValueError(f"{path}: expected a 1-D {kind} array, found shape {values.shape}")
    return values


class MouseFolder:
    """One mouse of a built dataset: trials table and memory-mapped responses.

    Parameters
    ----------
    path
        The mouse folder ``<root>/<mouse_id>``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"mouse folder {self.path} does not exist; {REBUILD_HINT}")
        trials_dir = self.path / "meta" / "trials"
        self.trials = Trials(
            movie=_load_meta(trials_dir / "movie.npy", "string").astype(str),
            clip=_load_meta(trials_dir / "clip.npy", "integer").astype(np.int64),
            repeat=_load_meta(trials_dir / "repeat.npy", "integer").astype(np.int64),
            split=_load_meta(trials_dir / "split.npy", "string").astype(str),
        )
        lengths = {len(values) for values in vars(self.trials).values()}
        if len(lengths) != 1:
            raise ValueError(f"{trials_dir}: movie/clip/repeat/split have different lengths")
        unknown = sorted(set(self.trials.split) - set(SPLITS))
        if unknown:
            raise ValueError(
                f"{trials_dir / 'split.npy'}: unknown splits {unknown}; expected {SPLITS}"
            )
        first = self.responses(0)
        self.num_neurons, self.num_frames = first.shape

    @property
    def mouse_id(self) -> str:
        return self.path.name

    @property
    def num_samples(self) -> int:
        return len(self.trials.split)

    def _sample_array(self, name: str, index: int, layout: tuple[str, ...]) -> np.ndarray:
        """Memory-mapped array ``name`` (a key of the builder's ``FOLDERS``) of one sample, whose
        axes are named by ``layout``."""
        path = self.path / "data" / FOLDERS[name] / f"{index}.npy"
        if not path.is_file():
            raise FileNotFoundError(
                f"missing {path} (the trials table lists {self.num_samples} samples); {REBUILD_HINT}"
            )
        values = np.load(path, mmap_mode="r", allow_pickle=False)
        if values.ndim != len(layout):
            expected = "(" + ", ".join(layout) + ")"
            raise ValueError(f"{path}: expected {name} {expected}, found shape {values.shape}")
        bad = values.size - int(np.count_nonzero(np.isfinite(values)))
        if bad:
            raise ValueError(
                f"{path} holds {bad} non-finite value(s) (NaN or infinity), which would silently "
                f"change every score; the dataset is damaged or was edited: {REBUILD_HINT}"
            )
        return values

    def responses(self, index: int) -> np.ndarray:
        """Memory-mapped responses ``(N, T)`` of sample ``index`` (stored normalised, finite)."""
        values = self._sample_array("responses", index, ("neurons", "frames"))
        expected = (getattr(self, "num_neurons", None), getattr(self, "num_frames", None))
        if None not in expected and values.shape != expected:
            raise ValueError(
                f"{self.path}/data/responses/{index}.npy has shape {values.shape}, sample 0 "
                f"has {expected}; {REBUILD_HINT}"
            )
        return values

    def video(self, index: int) -> np.ndarray:
        """Memory-mapped video ``(1, T, H, W)`` of sample ``index`` (stored normalised)."""
        return self._sample_array("video", index, ("1", "frames", "height", "width"))

    def behavior(self, index: int) -> np.ndarray:
        """Memory-mapped behaviour ``(2, T)`` [pupil size, running speed] (stored normalised)."""
        return self._sample_array("behavior", index, ("2", "frames"))

    def pupil_center(self, index: int) -> np.ndarray:
        """Memory-mapped pupil centre ``(2, T)`` [x, y] of sample ``index`` (stored normalised)."""
        return self._sample_array("pupil_center", index, ("2", "frames"))

    def stack_responses(self, indices: np.ndarray) -> np.ndarray:
        """Responses of the given samples, ``(S, N, T)`` float32 (read into memory)."""
        stacked = np.empty((len(indices), self.num_neurons, self.num_frames), dtype=np.float32)
        for row, index in enumerate(indices):
            stacked[row] = self.responses(int(index))
        return stacked

    def split_samples(self, split: str | None, purpose: str = "") -> np.ndarray:
        """:meth:`select` of one split, refusing an empty one (``purpose`` says what needs it)."""
        indices = self.select(split=split)
        if indices.size == 0:
            raise ValueError(f"{self.path}: no samples in split {split!r}{purpose}")
        return indices

    def select(
        self,
        split: str | None = None,
        movie: str | None = None,
        clip: int | None = None,
        repeat: int | None = None,
    ) -> np.ndarray:
        """Sample indices (ascending) matching every given field; ``None`` matches all."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        keep = np.ones(self.num_samples, dtype=bool)
        for values, wanted in (
            (self.trials.split, split),
            (self.trials.movie, movie),
            (self.trials.clip, clip),
            (self.trials.repeat, repeat),
        ):
            if wanted is not None:
                keep &= values == wanted
        return np.flatnonzero(keep)

    def clip_keys(self, indices: np.ndarray) -> list[tuple[str, int]]:
        """Distinct ``(movie, clip)`` pairs of the given samples, in order of first appearance."""
        keys = zip(self.trials.movie[indices], self.trials.clip[indices].tolist(), strict=True)
        return list(dict.fromkeys((str(movie), int(clip)) for movie, clip in keys))

    def max_projection(self) -> np.ndarray | None:
        """Max projection of the imaging plane ``(H, W)``, or None if the folder has none."""
        path = self.path / "meta" / "session" / "max_projection.npy"
        return np.load(path, allow_pickle=False) if path.is_file() else None

    def roi_pixel_centers(self) -> np.ndarray | None:
        """ROI centres ``(N, 2)`` as (x, y) field-of-view pixels, or None if absent."""
        path = self.path / "meta" / "neurons" / "roi_pixel_centers.npy"
        return np.load(path, allow_pickle=False) if path.is_file() else None

    def manifest_sha256(self) -> str | None:
        """sha256 of ``manifest.json`` (identifies the dataset build), or None if absent."""
        path = self.path / "manifest.json"
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None

    def normalisation(self) -> str | None:
        """Response normalisation the folder was built with (``seed``, ``viv1t``), or None if its
        ``manifest.json`` does not say."""
        path = self.path / "manifest.json"
        manifest = json.loads(path.read_text()) if path.is_file() else {}
        value = manifest.get("normalisation") if isinstance(manifest, dict) else None
        return None if value is None else str(value)
