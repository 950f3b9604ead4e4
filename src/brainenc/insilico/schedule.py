"""Timeline of a ``three_session_A`` session: epochs, stimulus tables and 2-photon timestamps.

The session is laid out in slots, in the real order::

    lead | DG | gap | NM3 (first half of repeats) | gap | NM1 | gap | DG | gap/6 | spontaneous | 1 |
    NM3 (second half) | gap | DG | tail

Every slot is as long as its content can possibly be, so the session length is a pure function
of the settings (`required_frames`). Inside a slot:

* Natural movies are shown at 30 movie frames per second and the 2-photon clock runs slightly
  faster (`ACQUISITION_PER_MOVIE_FRAME` 2p frames per movie frame, so ~30.1 Hz). Movie frame ``k``
  of a repeat starting at 2p frame ``s`` spans 2p frames ``floor(s + k*rho)`` to
  ``floor(s + (k+1)*rho)``: mostly 1 frame, a 2-frame row every ~220 frames. A display lag
  (probability `LAG_PROBABILITY` per movie frame) turns two 1-frame rows into a 2-frame row
  followed by a 0-frame row (``start == end``). Repeats are separated by 1 to `MAX_REPEAT_GAP`
  frames, so 10 x 900 frames span about 9,060 frames as in the real session.
* Drifting gratings: 2 s grating then 1 s grey (~90 frames per trial), 40 conditions (5 temporal
  frequencies x 8 directions) plus blank sweeps in the real proportion (28 of 628), shuffled.
* Spontaneous activity is one grey block.

Timestamps are the sync-clock times (s) of the 2p frames: they start at a few seconds, not at 0,
and their intervals jitter by ~0.15 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from brainenc.insilico.random_streams import stream

if TYPE_CHECKING:
    from brainenc.insilico.session_config import SessionConfig

ALLENSDK_EPOCH_GAP_THRESHOLD = 39  # allensdk: session A rows further apart start a new epoch
MOVIE_FRAME_RATE_HZ = 30.0
ACQUISITION_PER_MOVIE_FRAME = 1.0045
FRAME_PERIOD_S = 1.0 / (MOVIE_FRAME_RATE_HZ * ACQUISITION_PER_MOVIE_FRAME)
TIMESTAMP_JITTER = 0.0015
LAG_PROBABILITY = 0.002
MAX_REPEAT_GAP = 4
GRATING_ON_S, GRATING_OFF_S = 2.0, 1.0
TEMPORAL_FREQUENCIES_HZ = (1.0, 2.0, 4.0, 8.0, 15.0)
DIRECTIONS_DEG = tuple(float(d) for d in range(0, 360, 45))
BLANK_FRACTION = 28 / 628
EPOCH_ORDER = (
    "drifting_gratings",
    "natural_movie_three",
    "natural_movie_one",
    "drifting_gratings",
    "spontaneous",
    "natural_movie_three",
    "drifting_gratings",
)


@dataclass(frozen=True)
class MovieTable:
    """One row per displayed movie frame, in display order (all arrays (R,) int64)."""

    frame: np.ndarray
    start: np.ndarray
    end: np.ndarray
    repeat: np.ndarray


@dataclass(frozen=True)
class GratingTable:
    """One row per drifting-grating trial (arrays (n,)); blanks have NaN frequency and direction."""

    temporal_frequency: np.ndarray
    orientation: np.ndarray
    blank_sweep: np.ndarray
    start: np.ndarray
    end: np.ndarray


@dataclass(frozen=True)
class Schedule:
    """The full timeline: timestamps (T,) in s, stimulus tables and the expected epoch table."""

    timestamps: np.ndarray
    movies: dict[str, MovieTable]
    gratings: GratingTable
    spontaneous: tuple[int, int]
    epochs: tuple[tuple[str, int, int], ...]

    @property
    def n_frames(self) -> int:
        return len(self.timestamps)


def _grating_slot(trials: int) -> int:
    return (
        math.ceil(
            trials
            * (GRATING_ON_S + GRATING_OFF_S)
            * MOVIE_FRAME_RATE_HZ
            * ACQUISITION_PER_MOVIE_FRAME
        )
        + 1
    )


def _movie_slot(frames: int, repeats: int) -> int:
    return (
        repeats * math.ceil(frames * ACQUISITION_PER_MOVIE_FRAME) + (repeats - 1) * MAX_REPEAT_GAP
    )


def _grating_blocks(total: int) -> list[int]:
    base = total // 3
    return [base, base, total - 2 * base]


def _nm3_split(repeats: int) -> list[int]:
    first = (repeats + 1) // 2
    return [first, repeats - first]


def _slots(c: SessionConfig) -> list[tuple[str, int, int]]:
    """(stimulus, slot length, gap after the slot) in session order."""
    dg = _grating_blocks(c.drifting_grating_trials)
    nm3 = _nm3_split(c.natural_movie_three_repeats)
    nm1_slot = _movie_slot(c.natural_movie_one_frames, c.natural_movie_one_repeats)
    gap = c.epoch_gap_frames
    return [
        ("drifting_gratings", _grating_slot(dg[0]), gap),
        ("natural_movie_three", _movie_slot(c.natural_movie_three_frames, nm3[0]), gap),
        ("natural_movie_one", nm1_slot, gap),
        ("drifting_gratings", _grating_slot(dg[1]), max(1, gap // 6)),
        ("spontaneous", c.spontaneous_frames, 1),
        ("natural_movie_three", _movie_slot(c.natural_movie_three_frames, nm3[1]), gap),
        ("drifting_gratings", _grating_slot(dg[2]), 0),
    ]


def required_frames(c: SessionConfig) -> int:
    """Number of 2p frames the session needs for the given settings (lead, epochs, gaps, tail)."""
    return c.lead_frames + sum(length + gap for _, length, gap in _slots(c)) + c.tail_frames


def _timestamps(n_frames: int, rng: np.random.Generator) -> np.ndarray:
    periods = FRAME_PERIOD_S * (1.0 + TIMESTAMP_JITTER * rng.standard_normal(n_frames - 1))
    t0 = rng.uniform(3.0, 12.0)
    return t0 + np.concatenate([[0.0], np.cumsum(periods)])


def _movie_rows(
    frames: int, repeats: int, first_repeat: int, slot_start: int, rng: np.random.Generator
) -> MovieTable:
    per_repeat = np.floor(ACQUISITION_PER_MOVIE_FRAME * np.arange(frames + 1)).astype(np.int64)
    gaps = rng.integers(1, MAX_REPEAT_GAP + 1, size=repeats)
    starts, ends = [], []
    position = slot_start
    for r in range(repeats):
        bounds = per_repeat + position
        start, end = bounds[:-1].copy(), bounds[1:].copy()
        # display lag: a 1-frame row becomes 2 frames and the next 1-frame row 0 frames
        one = (end - start) == 1
        candidates = np.flatnonzero(one[:-1] & one[1:] & (rng.random(frames - 1) < LAG_PROBABILITY))
        candidates = candidates[np.diff(candidates, prepend=-2) > 1]
        end[candidates] += 1
        start[candidates + 1] += 1
        starts.append(start)
        ends.append(end)
        position = int(bounds[-1]) + int(gaps[r])
    return MovieTable(
        frame=np.tile(np.arange(frames, dtype=np.int64), repeats),
        start=np.concatenate(starts),
        end=np.concatenate(ends),
        repeat=np.repeat(np.arange(first_repeat, first_repeat + repeats, dtype=np.int64), frames),
    )


def _grating_conditions(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_blank = round(n * BLANK_FRACTION)
    conditions = [(tf, d) for tf in TEMPORAL_FREQUENCIES_HZ for d in DIRECTIONS_DEG]
    picks = []
    while len(picks) < n - n_blank:
        picks.extend(conditions[i] for i in rng.permutation(len(conditions)))
    picks = picks[: n - n_blank] + [(np.nan, np.nan)] * n_blank
    order = rng.permutation(n)
    tf = np.array([picks[i][0] for i in order], dtype=np.float64)
    direction = np.array([picks[i][1] for i in order], dtype=np.float64)
    return tf, direction


def _grating_rows(trials: int, slot_start: int) -> tuple[np.ndarray, np.ndarray]:
    per_trial = (GRATING_ON_S + GRATING_OFF_S) * MOVIE_FRAME_RATE_HZ * ACQUISITION_PER_MOVIE_FRAME
    on = GRATING_ON_S * MOVIE_FRAME_RATE_HZ * ACQUISITION_PER_MOVIE_FRAME
    onsets = slot_start + per_trial * np.arange(trials)
    return np.floor(onsets).astype(np.int64), np.floor(onsets + on).astype(np.int64)


def _concat_movie(tables: list[MovieTable]) -> MovieTable:
    return MovieTable(
        *(
            np.concatenate([getattr(t, k) for t in tables])
            for k in ("frame", "start", "end", "repeat")
        )
    )


def _truncate_last_repeat(table: MovieTable, frames: int) -> MovieTable:
    keep = len(table.frame) - (frames - frames // 2)
    return MovieTable(table.frame[:keep], table.start[:keep], table.end[:keep], table.repeat[:keep])


def build_schedule(c: SessionConfig) -> Schedule:
    """Lay out the whole session for the given settings (deterministic for a given seed)."""
    rng = stream(c.seed, "mouse", c.mouse_id, "schedule")
    timestamps = _timestamps(c.n_frames, rng)
    dg_blocks = iter(_grating_blocks(c.drifting_grating_trials))
    nm3_blocks = iter(_nm3_split(c.natural_movie_three_repeats))
    tf, direction = _grating_conditions(c.drifting_grating_trials, rng)
    movie_parts: dict[str, list[MovieTable]] = {"natural_movie_one": [], "natural_movie_three": []}
    grating_start, grating_end, epochs = [], [], []
    spontaneous = (0, 0)
    nm3_done = 0
    position = c.lead_frames
    for stimulus, length, gap in _slots(c):
        if stimulus == "drifting_gratings":
            start, end = _grating_rows(next(dg_blocks), position)
            grating_start.append(start)
            grating_end.append(end)
            epochs.append((stimulus, int(start[0]), int(end[-1])))
        elif stimulus == "spontaneous":
            spontaneous = (position, position + length)
            epochs.append((stimulus, *spontaneous))
        else:
            frames = getattr(c, f"{stimulus}_frames")
            repeats = (
                next(nm3_blocks)
                if stimulus == "natural_movie_three"
                else c.natural_movie_one_repeats
            )
            first = nm3_done if stimulus == "natural_movie_three" else 0
            table = _movie_rows(frames, repeats, first, position, rng)
            nm3_done += repeats if stimulus == "natural_movie_three" else 0
            movie_parts[stimulus].append(table)
            epochs.append((stimulus, int(table.start[0]), int(table.end[-1])))
        position += length + gap
    movies = {name: _concat_movie(parts) for name, parts in movie_parts.items()}
    if c.truncate_last_repeat is not None:
        name = c.truncate_last_repeat
        movies[name] = _truncate_last_repeat(movies[name], getattr(c, f"{name}_frames"))
        last = max(i for i, epoch in enumerate(epochs) if epoch[0] == name)
        epochs[last] = (name, epochs[last][1], int(movies[name].end[-1]))
    gratings = GratingTable(
        temporal_frequency=tf,
        orientation=direction,
        blank_sweep=np.isnan(tf).astype(np.float64),
        start=np.concatenate(grating_start),
        end=np.concatenate(grating_end),
    )
    return Schedule(timestamps, movies, gratings, spontaneous, tuple(epochs))


def movie_frame_labels(schedule: Schedule) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which movie frame is on screen during each 2p frame.

    Returns
    -------
    movie, frame, repeat
        (T,) int64 arrays: ``movie`` is 0 for natural_movie_one, 1 for natural_movie_three and -1
        when no movie is shown (then ``frame`` and ``repeat`` are -1). 0-frame rows label nothing;
        a 2-frame row labels both frames.
    """
    n = schedule.n_frames
    movie, frame, repeat = (np.full(n, -1, dtype=np.int64) for _ in range(3))
    for index, name in enumerate(("natural_movie_one", "natural_movie_three")):
        table = schedule.movies[name]
        spans = table.end - table.start
        rows = np.repeat(np.arange(len(spans)), spans)
        frames = table.start[rows] + (
            np.arange(len(rows)) - np.repeat(np.cumsum(spans) - spans, spans)
        )
        movie[frames] = index
        frame[frames] = table.frame[rows]
        repeat[frames] = table.repeat[rows]
    return movie, frame, repeat
