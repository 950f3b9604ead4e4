"""One two-photon session as plain arrays, read once from its NWB file (see `allen.py`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from brainenc.data.alignment import MoviePresentations
from brainenc.data.errors import SessionFileError


@dataclass(frozen=True)
class Movie:
    """A movie as shown in one session.

    Attributes
    ----------
    frames
        (L, h, w) float32 grey levels (0-255) of the downsampled template.
    presentations
        Acquisition frames of every movie frame of every repeat.
    """

    frames: np.ndarray
    presentations: MoviePresentations


@dataclass(frozen=True)
class Recording:
    """Arrays of one session that the dataset is built from.

    Attributes
    ----------
    source
        NWB file path.
    experiment_id
        Ophys experiment id (`/general/session_id`).
    metadata
        `get_metadata()` with JSON-able values.
    timestamps
        (T,) float64 two-photon frame times in seconds.
    responses
        (N, T) float64 corrected fluorescence (demixed - r * neuropil).
    cell_specimen_ids
        (N,) int64, file order.
    running_speed
        (T,) float64 cm/s on the two-photon clock; NaN where missing.
    pupil_size
        (T,) float64 pupil area in pixels aligned by timestamp, or None without eye tracking.
    pupil_center
        (T, 2) float64 pupil location (degrees or cm, see `pupil_units`), or None.
    roi_pixel_centers
        (N, 2) float64 (x, y) field-of-view pixels: midpoint of each ROI mask's pixels.
    roi_mask_count
        (H, W) uint16 number of ROI masks covering each pixel (for the overlay figure).
    max_projection
        (H, W) float32 maximum-intensity projection.
    movies
        Stimulus name -> `Movie`.
    """

    source: Path
    experiment_id: int
    metadata: dict[str, Any]
    timestamps: np.ndarray
    responses: np.ndarray
    cell_specimen_ids: np.ndarray
    running_speed: np.ndarray
    pupil_size: np.ndarray | None
    pupil_center: np.ndarray | None
    pupil_units: str
    roi_pixel_centers: np.ndarray
    roi_mask_count: np.ndarray
    max_projection: np.ndarray
    movies: dict[str, Movie]

    @property
    def has_eye_tracking(self) -> bool:
        return self.pupil_size is not None and self.pupil_center is not None

    def select_neurons(self, cell_specimen_ids: np.ndarray) -> Recording:
        """The same session restricted to (and ordered by) the given cell specimen ids."""
        position = {int(c): i for i, c in enumerate(self.cell_specimen_ids)}
        rows = np.array([position[int(c)] for c in cell_specimen_ids], dtype=np.int64)
        return replace(
            self,
            responses=self.responses[rows],
            cell_specimen_ids=self.cell_specimen_ids[rows],
            roi_pixel_centers=self.roi_pixel_centers[rows],
        )


def shared_neurons(recordings: list[Recording]) -> list[Recording]:
    """Restrict sessions of one mouse to the cell specimen ids present in all of them.

    The order is that of the first session. Raises SessionFileError if no neuron is shared.
    """
    if len(recordings) == 1:
        return recordings
    shared = set(recordings[0].cell_specimen_ids.tolist())
    for recording in recordings[1:]:
        shared &= set(recording.cell_specimen_ids.tolist())
    ids = np.array([c for c in recordings[0].cell_specimen_ids if c in shared], dtype=np.int64)
    if ids.size == 0:
        sources = ", ".join(str(r.source) for r in recordings)
        raise SessionFileError(
            f"the sessions {sources} share no cell specimen id, so they cannot be merged into "
            "one mouse; list them as separate mice in data.build.mice."
        )
    return [recording.select_neurons(ids) for recording in recordings]
