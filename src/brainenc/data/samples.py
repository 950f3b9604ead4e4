"""Cut sessions into clips: one sample per (movie, repeat, clip), in the seed's order.

Order: movies in the configured order (natural_movie_one first), then sessions, then repeats,
then clips. A split keeps this order, so the training split of a full session A starts with the
42 natural_movie_one samples (7 repeats x 6 clips) followed by the 175 natural_movie_three ones.
Each sample's split comes from `SplitConfig.split_of`: by its session repeat (the seed's), or by
its clip's fold (`split=by_clip`, all repeats of a clip in one split).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from brainenc.data.alignment import clip_acquisition_frames
from brainenc.data.config import SplitConfig
from brainenc.data.errors import SessionFileError
from brainenc.data.mouse_folder import SPLITS
from brainenc.data.recording import Recording


@dataclass(frozen=True)
class SampleSet:
    """All clips of one mouse before normalisation (S samples, N neurons, T frames per clip).

    Attributes
    ----------
    movie, split
        (S,) str.
    clip, repeat
        (S,) int64; `repeat` counts presentations of the movie over all merged sessions.
    session_repeat
        (S,) int64 repeat index within its own session (what the split is based on).
    experiment_id
        (S,) int64 session each sample comes from.
    video_clips
        (U, T, h, w) float32 grey levels of the distinct clips.
    video_index
        (S,) int64 row of `video_clips` shown in each sample.
    behavior
        (S, 2, T) float32 [pupil size (pixels), running speed (cm/s)].
    pupil_center
        (S, 2, T) float32 pupil location [x, y].
    responses
        (S, N, T) float32 corrected fluorescence.
    """

    movie: np.ndarray
    split: np.ndarray
    clip: np.ndarray
    repeat: np.ndarray
    session_repeat: np.ndarray
    experiment_id: np.ndarray
    video_clips: np.ndarray
    video_index: np.ndarray
    behavior: np.ndarray
    pupil_center: np.ndarray
    responses: np.ndarray

    def __len__(self) -> int:
        return len(self.movie)

    def mask(self, split: str) -> np.ndarray:
        return self.split == split

    def counts(self) -> dict[str, dict[str, int]]:
        """Samples per split, in total and per movie."""
        out: dict[str, dict[str, int]] = {}
        for split in SPLITS:
            chosen = self.movie[self.mask(split)]
            per_movie = {m: int(np.sum(chosen == m)) for m in dict.fromkeys(self.movie.tolist())}
            out[split] = {"total": int(chosen.size), **per_movie}
        return out

    def with_arrays(self, **arrays: np.ndarray) -> SampleSet:
        return replace(self, **arrays)


def assemble_samples(
    recordings: list[Recording], movies: tuple[str, ...], clip_length: int, splits: SplitConfig
) -> SampleSet:
    """Cut the given sessions (same neurons, same order) into clips of `clip_length` frames.

    Samples in no split (repeats absent from `splits`) are left out. A movie must be shown in
    at least one session; with splits by clip it needs at least one clip per fold.
    """
    rows: dict[str, list] = {k: [] for k in ("movie", "split", "clip", "repeat", "session_repeat")}
    rows["experiment_id"] = []
    behavior, pupil, responses, video_index, video_clips = [], [], [], [], []
    for movie in movies:
        shown = [r for r in recordings if movie in r.movies]
        if not shown:
            sources = ", ".join(
                f"{r.source} ({r.metadata.get('session_type')}, shows {sorted(r.movies) or 'none'})"
                for r in recordings
            )
            raise SessionFileError(
                f"{movie} is not shown in {sources}: its stimulus table is absent. Remove it from "
                "data.build.movies or use a session that shows it (three_session_A shows "
                "natural_movie_one and natural_movie_three)."
            )
        frames = shown[0].movies[movie].frames
        n_clips = _clip_count(frames.shape[0], clip_length, splits, movie, shown[0].source)
        first_clip_row = len(video_clips)
        video_clips.extend(frames[c * clip_length : (c + 1) * clip_length] for c in range(n_clips))
        offset = 0
        for recording in shown:
            presentations = recording.movies[movie].presentations
            _check_same_movie(frames, recording, movie)
            for repeat in range(presentations.repeats):
                for clip in range(n_clips):
                    split = splits.split_of(repeat, clip, n_clips)
                    if split is None:
                        continue
                    frame_ids = clip_acquisition_frames(presentations, repeat, clip, clip_length)
                    rows["movie"].append(movie)
                    rows["split"].append(split)
                    rows["clip"].append(clip)
                    rows["repeat"].append(offset + repeat)
                    rows["session_repeat"].append(repeat)
                    rows["experiment_id"].append(recording.experiment_id)
                    video_index.append(first_clip_row + clip)
                    behavior.append(_behavior(recording, frame_ids))
                    pupil.append(_pupil_center(recording, frame_ids))
                    responses.append(recording.responses[:, frame_ids])
            offset += presentations.repeats
    if splits.by == "repeat":
        _check_split_repeats(recordings, movies, splits)
    return SampleSet(
        movie=np.array(rows["movie"]),
        split=np.array(rows["split"]),
        clip=np.array(rows["clip"], dtype=np.int64),
        repeat=np.array(rows["repeat"], dtype=np.int64),
        session_repeat=np.array(rows["session_repeat"], dtype=np.int64),
        experiment_id=np.array(rows["experiment_id"], dtype=np.int64),
        video_clips=np.stack(video_clips).astype(np.float32),
        video_index=np.array(video_index, dtype=np.int64),
        behavior=np.stack(behavior).astype(np.float32),
        pupil_center=np.stack(pupil).astype(np.float32),
        responses=np.stack(responses).astype(np.float32),
    )


def _clip_count(
    movie_frames: int, clip_length: int, splits: SplitConfig, movie: str, source: Path
) -> int:
    """Whole clips of `clip_length` frames in a movie of `movie_frames` frames."""
    n_clips = movie_frames // clip_length
    if n_clips == 0:
        raise SessionFileError(
            f"{movie} has {movie_frames} frames in {source}, fewer than "
            f"data.build.clip_frames={clip_length}."
        )
    if splits.by == "clip" and n_clips < splits.folds:
        raise SessionFileError(
            f"{movie} in {source} has {n_clips} clips of data.build.clip_frames={clip_length} "
            f"frames, fewer than data.build.splits.folds={splits.folds}: with splits by clip "
            "every movie needs at least one clip per fold. Lower the folds, shorten "
            "data.build.clip_frames, or drop the movie from data.build.movies."
        )
    return n_clips


def _behavior(recording: Recording, frame_ids: np.ndarray) -> np.ndarray:
    """(2, T) [pupil size, running speed]; zeros for the pupil without eye tracking."""
    size = recording.pupil_size[frame_ids] if recording.pupil_size is not None else 0.0
    speed = recording.running_speed[frame_ids]
    return np.stack(np.broadcast_arrays(size, speed))


def _pupil_center(recording: Recording, frame_ids: np.ndarray) -> np.ndarray:
    if recording.pupil_center is None:
        return np.zeros((2, frame_ids.size))
    return recording.pupil_center[frame_ids].T


def _check_same_movie(frames: np.ndarray, recording: Recording, movie: str) -> None:
    other = recording.movies[movie].frames
    if other.shape != frames.shape or not np.allclose(other, frames, atol=0.5):
        raise SessionFileError(
            f"{movie} in {recording.source} differs from the same movie in the first session "
            "of this mouse; sessions merged into one mouse must show identical movies."
        )


def _check_split_repeats(
    recordings: list[Recording], movies: tuple[str, ...], splits: SplitConfig
) -> None:
    wanted = max(splits.train + splits.validation + splits.test)
    for recording in recordings:
        for movie in movies:
            if movie in recording.movies:
                repeats = recording.movies[movie].presentations.repeats
                if repeats <= wanted:
                    raise SessionFileError(
                        f"{recording.source}: {movie} has {repeats} repeats, but "
                        f"data.build.splits uses repeat {wanted} (0-based); shorten the splits "
                        "or check that the session is complete."
                    )
