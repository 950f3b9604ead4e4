"""What reaches the retina on each 2p frame, projected onto every neuron's spatial filters.

Screen geometry: the template is mapped linearly onto the monitor's field of view,
`SCREEN_AZIMUTH_DEG` x `SCREEN_ALTITUDE_DEG` degrees centred on (0, 0) (allensdk's spherical
warping is ignored). Responses are computed on a low-resolution copy of the screen (at most
`SIMULATION_SHAPE` pixels, area-averaged from the template) in Weber contrast, 0 = grey.

An eye position ``e(t) = (azimuth, altitude)`` moves the retinal image: a receptive field at
retinal position ``u`` sees the screen at ``u + e(t)``. Equivalently, each frame is translated by
``-e(t)`` (bilinear, grey outside the screen) and projected onto fixed filters. Drifting
gratings are rendered analytically at the shifted coordinates: contrast 0.8, 0.04 cycles/deg,
``0.8 cos(2 pi (sf (az cos th + alt sin th) - tf (t - onset))))``; blank sweeps and every
non-stimulus frame are grey.
"""

from __future__ import annotations

import numpy as np

from brainenc.insilico.schedule import Schedule, movie_frame_labels

SCREEN_AZIMUTH_DEG = 120.0
SCREEN_ALTITUDE_DEG = 95.0
SIMULATION_SHAPE = (38, 76)
GRATING_CONTRAST = 0.8
GRATING_SPATIAL_FREQUENCY = 0.04


def simulation_shape(template_height: int, template_width: int) -> tuple[int, int]:
    """(h, w) of the low-resolution screen used for responses."""
    return min(SIMULATION_SHAPE[0], template_height), min(SIMULATION_SHAPE[1], template_width)


def screen_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre azimuth (width,) and altitude (height,) in degrees; row 0 is the top."""
    azimuth = ((np.arange(width) + 0.5) / width - 0.5) * SCREEN_AZIMUTH_DEG
    altitude = (0.5 - (np.arange(height) + 0.5) / height) * SCREEN_ALTITUDE_DEG
    return azimuth, altitude


def _grating_trial_labels(schedule: Schedule) -> np.ndarray:
    labels = np.full(schedule.n_frames, -1, dtype=np.int64)
    g = schedule.gratings
    for trial in np.flatnonzero(g.blank_sweep == 0):
        labels[g.start[trial] : g.end[trial]] = trial
    return labels


def _shift_frames(frames: np.ndarray, shift_rows: np.ndarray, shift_cols: np.ndarray) -> np.ndarray:
    """Sample each (h, w) frame at (row + shift_rows[f], col + shift_cols[f]); grey outside.

    Frames are grouped by their integer shift (the eye moves slowly, so there are few groups) and
    each group is sliced at once, then blended bilinearly with its fractional shifts.
    """
    n, h, w = frames.shape
    pad = int(np.ceil(max(np.abs(shift_rows).max(), np.abs(shift_cols).max()))) + 2
    padded = np.zeros((n, h + 2 * pad, w + 2 * pad), dtype=np.float32)
    padded[:, pad : pad + h, pad : pad + w] = frames
    r0, c0 = np.floor(shift_rows).astype(np.intp), np.floor(shift_cols).astype(np.intp)
    fr = (shift_rows - r0).astype(np.float32)[:, None, None]
    fc = (shift_cols - c0).astype(np.float32)[:, None, None]
    out = np.empty_like(frames, dtype=np.float32)
    keys, group = np.unique(np.stack([r0, c0], axis=1), axis=0, return_inverse=True)
    for g, (dr, dc) in enumerate(keys):
        members = np.flatnonzero(group.ravel() == g)
        block = padded[members, pad + dr : pad + dr + h + 1, pad + dc : pad + dc + w + 1]
        cols = block[:, :, :w] * (1 - fc[members]) + block[:, :, 1:] * fc[members]
        out[members] = cols[:, :h] * (1 - fr[members]) + cols[:, 1:] * fr[members]
    return out


def retinal_projections(
    schedule: Schedule,
    movies: dict[str, np.ndarray],
    eye_position: np.ndarray,
    filters: np.ndarray,
    chunk: int = 2048,
) -> np.ndarray:
    """Project the retinal image of every 2p frame onto spatial filters.

    Parameters
    ----------
    schedule
        Session timeline.
    movies
        ``{"natural_movie_one": (L1, h, w), "natural_movie_three": (L3, h, w)}`` float32 contrast.
    eye_position
        (T, 2) degrees (azimuth, altitude) on the 2p clock.
    filters
        (h * w, K) float32 spatial filters on the simulation grid.

    Returns
    -------
    np.ndarray
        (T, K) float32; 0 on grey frames.
    """
    h, w = movies["natural_movie_one"].shape[1:]
    azimuth, altitude = screen_grid(h, w)
    deg_per_col, deg_per_row = SCREEN_AZIMUTH_DEG / w, SCREEN_ALTITUDE_DEG / h
    movie_id, movie_frame, _ = movie_frame_labels(schedule)
    trial = _grating_trial_labels(schedule)
    stacks = (movies["natural_movie_one"], movies["natural_movie_three"])
    g = schedule.gratings
    out = np.zeros((schedule.n_frames, filters.shape[1]), dtype=np.float32)
    shown = np.flatnonzero((movie_id >= 0) | (trial >= 0))
    for s in range(0, len(shown), chunk):
        frames = shown[s : s + chunk]
        images = np.zeros((len(frames), h, w), dtype=np.float32)
        for index, stack in enumerate(stacks):
            sel = movie_id[frames] == index
            if sel.any():
                f = frames[sel]
                images[sel] = _shift_frames(
                    stack[movie_frame[f]],
                    -eye_position[f, 1] / deg_per_row,
                    eye_position[f, 0] / deg_per_col,
                )
        sel = trial[frames] >= 0
        if sel.any():
            f, k = frames[sel], trial[frames[sel]]
            theta = np.deg2rad(g.orientation[k])[:, None, None]
            az = azimuth[None, None, :] + eye_position[f, 0][:, None, None]
            alt = altitude[None, :, None] + eye_position[f, 1][:, None, None]
            elapsed = (schedule.timestamps[f] - schedule.timestamps[g.start[k]])[:, None, None]
            phase = GRATING_SPATIAL_FREQUENCY * (az * np.cos(theta) + alt * np.sin(theta))
            phase = phase - g.temporal_frequency[k][:, None, None] * elapsed
            images[sel] = GRATING_CONTRAST * np.cos(2 * np.pi * phase)
        out[frames] = images.reshape(len(frames), -1) @ filters
    return out
