"""From allensdk stimulus tables to the acquisition frames of every clip.

A natural-movie stimulus table has one row per *displayed movie frame*: `frame` (movie frame
index), `start` and `end` (two-photon acquisition-frame indices) and `repeat`. The acquisition
frame of movie frame f in repeat r is that row's `start`. Rows usually span one acquisition
frame; clock drift gives rows spanning 2 frames (`end - start == 2`) and dropped display frames
give rows spanning 0 (the next row starts on the same acquisition frame). Taking every row's
`start` therefore follows the real timing, and the number of acquisition frames a repeat
occupies comes out of the table rather than from an assumed constant.

How the seed's "discarded gaps" arise: in the seed session, natural_movie_one's 10 repeats span
9,060 acquisition frames (not 9,000), i.e. about 906 per repeat. The 6 clips use movie frames
0-839; what is left before the next repeat starts is the 60 unused movie frames plus the extra
acquisition frames from 2-frame rows and the short gap between repeats: 66 frames. Likewise
natural_movie_three's two blocks of 5 repeats span 18,105 and 18,100 frames: 3,500 used + 121
or 120 left per repeat. `repeat_report` recomputes these numbers from the table for every
session and the build stores them in the manifest.

Eye-tracking series have their own clock. They are aligned by timestamp: each acquisition frame
takes the eye sample nearest in time to its two-photon timestamp, or NaN if none lies within
one sampling interval (gaps, or a series that starts late or ends early).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainenc.data.errors import IncompleteRepeatsError, SessionFileError

# allensdk starts a new stimulus epoch of session A when rows are more than 39 frames apart;
# repeats closer than that belong to one block.
BLOCK_GAP_FRAMES = 39


@dataclass(frozen=True)
class MoviePresentations:
    """Acquisition frames at which each movie frame of each repeat was shown.

    Attributes
    ----------
    movie
        Stimulus name, e.g. "natural_movie_one".
    start, end
        (R, L) int64 acquisition-frame indices of the stimulus-table row of movie frame f in
        repeat r (R repeats, L movie frames).
    """

    movie: str
    start: np.ndarray
    end: np.ndarray

    @property
    def repeats(self) -> int:
        return self.start.shape[0]

    @property
    def movie_frames(self) -> int:
        return self.start.shape[1]


def movie_presentations(
    movie: str,
    frame: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    movie_frames: int,
    n_acquisition_frames: int,
    source: Path | str,
) -> MoviePresentations:
    """Check a movie's stimulus-table rows and arrange them per repeat.

    Parameters
    ----------
    frame, start, end
        (rows,) columns of `get_stimulus_table(movie)`, in table order (sorted by start).
    movie_frames
        Length L of the movie template.
    n_acquisition_frames
        Number of two-photon frames T; every start must index into the traces.
    """
    frame, start, end = (np.asarray(a, dtype=np.int64) for a in (frame, start, end))
    rows = len(frame)
    hint = (
        "The session was probably cut short or the file is damaged; exclude this session "
        "or drop the movie from data.build.movies."
    )
    if rows == 0 or rows % movie_frames:
        raise IncompleteRepeatsError(
            f"{source}: {movie} has {rows} stimulus-table rows, which is not a whole number of "
            f"repeats of its {movie_frames}-frame template. {hint}"
        )
    order = np.argsort(start, kind="stable")
    frame, start, end = frame[order], start[order], end[order]
    expected = np.tile(np.arange(movie_frames), rows // movie_frames)
    bad = np.flatnonzero(frame != expected)
    if bad.size:
        row = int(bad[0])
        raise IncompleteRepeatsError(
            f"{source}: {movie} row {row} (repeat {row // movie_frames}) shows movie frame "
            f"{frame[row]} where frame {expected[row]} was expected; repeats must show frames "
            f"0..{movie_frames - 1} in order. {hint}"
        )
    if start.min() < 0 or start.max() >= n_acquisition_frames or np.any(end < start):
        raise IncompleteRepeatsError(
            f"{source}: {movie} has rows outside the {n_acquisition_frames} acquisition frames "
            f"(start {start.min()}..{start.max()}) or ending before they start. {hint}"
        )
    shape = (rows // movie_frames, movie_frames)
    return MoviePresentations(movie, start.reshape(shape), end.reshape(shape))


def clip_acquisition_frames(
    presentations: MoviePresentations, repeat: int, clip: int, length: int
) -> np.ndarray:
    """(length,) acquisition frames of clip `clip` (movie frames clip*length ...) of `repeat`."""
    return presentations.start[repeat, clip * length : (clip + 1) * length]


def repeat_report(presentations: MoviePresentations, clip_length: int) -> dict[str, list[int]]:
    """Acquisition frames per repeat: spanned, used by clips, and left over (the seed's gaps).

    Returns
    -------
    Lists over repeats: `acquisition_frames` (first row's start to last row's end),
    `gap_to_next_repeat` (next repeat's first start minus this repeat's last end, -1 for the
    last one) and `discarded_after_clips`: acquisition frames between the end of the last clip
    and the start of the next repeat in the same block (or this repeat's end for the last
    repeat of a block), which the seed hard-coded as 66 / 121 / 120.
    """
    start, end = presentations.start, presentations.end
    used = (presentations.movie_frames // clip_length) * clip_length
    first, last_end = start[:, 0], end[:, -1]
    clips_end = start[:, used] if used < presentations.movie_frames else last_end
    next_start = np.append(first[1:], -1)
    gap = np.where(next_start >= 0, next_start - last_end, -1)
    same_block = (gap >= 0) & (gap <= BLOCK_GAP_FRAMES)
    block_end = np.where(same_block, next_start, last_end)
    return {
        "acquisition_frames": (last_end - first).tolist(),
        "gap_to_next_repeat": gap.tolist(),
        "discarded_after_clips": (block_end - clips_end).tolist(),
    }


def nearest_sample(
    sample_times: np.ndarray, query_times: np.ndarray, max_offset: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the sample nearest in time to each query, and whether it is close enough.

    Parameters
    ----------
    sample_times
        (M,) increasing timestamps in seconds.
    query_times
        (...) timestamps in seconds.
    max_offset
        Largest accepted |sample time - query time| in seconds.

    Returns
    -------
    indices (...) int64 into `sample_times`, and valid (...) bool.
    """
    if sample_times.size == 0:
        return np.zeros(query_times.shape, np.int64), np.zeros(query_times.shape, bool)
    right = np.clip(np.searchsorted(sample_times, query_times), 0, sample_times.size - 1)
    left = np.clip(right - 1, 0, sample_times.size - 1)
    pick_left = np.abs(query_times - sample_times[left]) <= np.abs(
        sample_times[right] - query_times
    )
    indices = np.where(pick_left, left, right)
    valid = np.abs(sample_times[indices] - query_times) <= max_offset
    return indices, valid


def align_series(
    sample_times: np.ndarray,
    values: np.ndarray,
    frame_times: np.ndarray,
    name: str,
    source: Path | str,
) -> np.ndarray:
    """Resample a separately timestamped series onto two-photon frames by nearest timestamp.

    Parameters
    ----------
    sample_times
        (M,) timestamps of the series in seconds (samples with NaN times are dropped).
    values
        (M,) or (M, C) samples.
    frame_times
        (T,) two-photon timestamps in seconds.

    Returns
    -------
    (T,) or (T, C) float64 values at the frames; NaN where no sample lies within one sampling
    interval (the larger of the series' and the frames' median intervals).
    """
    sample_times = np.asarray(sample_times, dtype=np.float64).reshape(-1)
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] != sample_times.size:
        raise SessionFileError(
            f"{source}: {name} has {values.shape[0]} samples but {sample_times.size} timestamps."
        )
    keep = np.isfinite(sample_times)
    sample_times, values = sample_times[keep], values[keep]
    if np.any(np.diff(sample_times) <= 0):
        raise SessionFileError(f"{source}: {name} timestamps are not strictly increasing.")
    interval = max(_median_step(sample_times), _median_step(frame_times))
    indices, valid = nearest_sample(sample_times, frame_times, interval)
    out = values[indices] if values.size else np.full((frame_times.size, *values.shape[1:]), np.nan)
    out[~valid] = np.nan
    return out


def _median_step(times: np.ndarray) -> float:
    return float(np.median(np.diff(times))) if times.size > 1 else np.inf
