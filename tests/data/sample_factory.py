"""Synthetic sample sets for the dataset tests (no allensdk needed)."""

from __future__ import annotations

import numpy as np

from brainenc.data.samples import SampleSet


def synthetic_samples(
    neurons: int = 5, frames: int = 8, repeats: int = 10, clips: int = 2, seed: int = 0
) -> SampleSet:
    """Samples of one movie in the seed's split (repeats 0-6 train, 7 validation, 8-9 test)."""
    rng = np.random.default_rng(seed)
    n = repeats * clips
    repeat = np.repeat(np.arange(repeats), clips)
    split = np.where(repeat < 7, "train", np.where(repeat == 7, "validation", "test"))
    return SampleSet(
        movie=np.full(n, "natural_movie_one"),
        split=split,
        clip=np.tile(np.arange(clips), repeats),
        repeat=repeat,
        session_repeat=repeat,
        experiment_id=np.full(n, 1, np.int64),
        video_clips=rng.uniform(0, 255, (clips, frames, 4, 6)).astype(np.float32),
        video_index=np.tile(np.arange(clips), repeats),
        behavior=rng.normal([[40.0], [5.0]], [[3.0], [2.0]], (n, 2, frames)).astype(np.float32),
        pupil_center=rng.normal(0, 4, (n, 2, frames)).astype(np.float32),
        responses=rng.gamma(2.0, 50.0, (n, neurons, frames)).astype(np.float32),
    )
