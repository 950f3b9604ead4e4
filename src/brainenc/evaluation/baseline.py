"""Model-free predictors from repeated clips: the trial-average baseline and the jackknife oracle.

Array level (responses of one clip ``(R, N, T)``): :func:`trial_average`,
:func:`leave_one_out_average`. Dataset level (a built mouse folder):

- :func:`clip_trial_average`: the seed's "dff mean among trials for a clip", ``(N, T)``.
- :func:`trial_average_baseline`: the seed's all-clips approach; every sample of a split is
  predicted by the mean of the training repeats of its clip and scored like the model.
- :func:`sample_baseline`: the seed's sample-based approach (one clip of each movie against each
  test repeat).
- :func:`jackknife_oracle`: every sample predicted by the mean of all other repeats of its clip.
- :func:`stimulus_blind_control`: every sample predicted by the same per-frame profile, the mean
  training response at each frame index of a clip; it ignores which clip is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainenc.data.mouse_folder import MouseFolder, as_mouse_folder
from brainenc.evaluation.metrics import DEFAULT_SKIP
from brainenc.evaluation.scoring import Scores, score_predictions

UNSEEN_REASON = "clips unseen in training"


def trial_average(responses: np.ndarray) -> np.ndarray:
    """Mean over repeats: ``(R, N, T) -> (N, T)``."""
    responses = np.asarray(responses, dtype=np.float64)
    if responses.ndim != 3 or responses.shape[0] < 1:
        raise ValueError(
            f"expected responses (repeats >= 1, neurons, frames), got {responses.shape}"
        )
    return responses.mean(axis=0)


def leave_one_out_average(responses: np.ndarray) -> np.ndarray:
    """Mean of the other repeats for every repeat: ``(R, N, T) -> (R, N, T)``.

    ``out[r] = (sum_q responses[q] - responses[r]) / (R - 1)``.
    """
    responses = np.asarray(responses, dtype=np.float64)
    if responses.ndim != 3 or responses.shape[0] < 2:
        raise ValueError(
            f"leave-one-out averaging needs responses (repeats >= 2, neurons, frames), got "
            f"{responses.shape}"
        )
    return (responses.sum(axis=0, keepdims=True) - responses) / (responses.shape[0] - 1)


@dataclass(frozen=True)
class RepeatAverageResult:
    """Scores of a model-free predictor (repeat average, oracle) on the samples of one split.

    Attributes
    ----------
    split
        Scored split, or None for every sample.
    sample_indices
        ``(S,)`` scored sample indices, ascending.
    predictions
        ``(S, N, T)`` predictions, or None when the predictor is not defined.
    scores
        See :class:`~brainenc.evaluation.scoring.Scores`; None when not defined.
    per_repeat
        Mean single-trial correlation of the samples of each repeat (the seed reports test
        repeats 8 and 9 separately).
    reason
        Why ``scores`` is None (e.g. "clips unseen in training"), else None.
    unseen_clips
        ``(movie, clip)`` pairs with no reference repeats.
    """

    split: str | None
    sample_indices: np.ndarray
    predictions: np.ndarray | None
    scores: Scores | None
    per_repeat: dict[int, float]
    reason: str | None = None
    unseen_clips: tuple[tuple[str, int], ...] = ()

    @property
    def value(self) -> float | None:
        """Mean single-trial correlation, or None with :attr:`reason`."""
        return None if self.scores is None else self.scores.corr


def scored_result(
    mouse: MouseFolder, split: str | None, indices: np.ndarray, predictions: np.ndarray, skip: int
) -> RepeatAverageResult:
    """Score ``predictions`` (S, N, T) of samples ``indices`` like a model, overall and per repeat."""
    scores = score_predictions(predictions, mouse.stack_responses(indices), skip)
    repeats = mouse.trials.repeat[indices]
    per_repeat = {
        int(repeat): float(scores.per_sample[repeats == repeat].mean())
        for repeat in np.unique(repeats)
    }
    return RepeatAverageResult(split, indices, predictions, scores, per_repeat)


def clip_trial_average(
    folder: MouseFolder | str | Path, movie: str, clip: int, split: str = "train"
) -> np.ndarray:
    """Mean response over the ``split`` repeats of one clip, ``(N, T)`` float64.

    Parameters
    ----------
    folder
        Built mouse folder.
    movie, clip
        The clip (0-based clip index within the movie).
    split
        Repeats to average (the seed: the 7 training repeats).
    """
    mouse = as_mouse_folder(folder)
    indices = mouse.select(split=split, movie=movie, clip=clip)
    if indices.size == 0:
        available = sorted(mouse.clip_keys(mouse.select(split=split)))
        raise ValueError(
            f"{mouse.folder}: {movie} clip {clip} has no {split!r} repeats; clips with {split!r} "
            f"repeats: {available}"
        )
    return trial_average(mouse.stack_responses(indices))


def trial_average_baseline(
    folder: MouseFolder | str | Path,
    split: str = "test",
    skip: int = DEFAULT_SKIP,
    reference_split: str = "train",
) -> RepeatAverageResult:
    """Trial-average baseline on every sample of ``split`` (the seed's all-clips approach).

    Each sample is predicted by :func:`clip_trial_average` of its clip over the
    ``reference_split`` repeats and scored by
    :func:`~brainenc.evaluation.scoring.score_predictions` on the model's frames.

    Returns
    -------
    RepeatAverageResult
        With ``scores`` None and ``reason`` "clips unseen in training" when any scored clip has
        no reference repeats (e.g. ``split=by_clip``): the baseline cannot predict unseen clips.
    """
    mouse = as_mouse_folder(folder)
    indices = mouse.split_samples(split)
    clip_keys = mouse.clip_keys(indices)
    unseen = tuple(
        key for key in clip_keys if mouse.select(reference_split, key[0], key[1]).size == 0
    )
    if unseen:
        reason = (
            UNSEEN_REASON if reference_split == "train" else f"clips unseen in {reference_split}"
        )
        return RepeatAverageResult(split, indices, None, None, {}, reason, unseen)
    averages = {key: clip_trial_average(mouse, *key, split=reference_split) for key in clip_keys}
    return scored_result(mouse, split, indices, predict_by_clip(mouse, indices, averages), skip)


def clip_key(mouse: MouseFolder, index: int) -> tuple[str, int]:
    """``(movie, clip)`` of sample ``index``."""
    return str(mouse.trials.movie[index]), int(mouse.trials.clip[index])


def average_by_clip(
    mouse: MouseFolder, indices: np.ndarray, values: np.ndarray
) -> dict[tuple[str, int], np.ndarray]:
    """Mean of per-sample ``values`` ``(S, ...)`` over the samples of each ``(movie, clip)``.

    ``indices`` ``(S,)`` names the sample of each row of ``values``.
    """
    keys = [clip_key(mouse, int(index)) for index in indices]
    return {
        key: np.mean([row for row, k in zip(values, keys, strict=True) if k == key], axis=0)
        for key in dict.fromkeys(keys)
    }


def predict_by_clip(
    mouse: MouseFolder, indices: np.ndarray, averages: dict[tuple[str, int], np.ndarray]
) -> np.ndarray:
    """Stack the ``(N, T)`` prediction of each sample's clip: ``(S, N, T)``."""
    return np.stack([averages[clip_key(mouse, int(index))] for index in indices])


@dataclass(frozen=True)
class SampleScore:
    """Single-trial correlation of one sample (the seed's sample-based approach)."""

    movie: str
    clip: int
    repeat: int
    corr: float


def sample_baseline(
    folder: MouseFolder | str | Path,
    clip: int = 0,
    split: str = "test",
    skip: int = DEFAULT_SKIP,
) -> list[SampleScore]:
    """Trial average of one clip of every movie against each ``split`` repeat of that clip.

    With the defaults on a session A folder this gives the seed's four correlations: clip 0
    (the seed's "clip 1") of natural_movie_one and natural_movie_three against test repeats 8
    and 9.
    """
    mouse = as_mouse_folder(folder)
    results = []
    for movie in dict.fromkeys(mouse.trials.movie.tolist()):
        indices = mouse.select(split=split, movie=movie, clip=clip)
        if indices.size == 0:
            continue
        average = clip_trial_average(mouse, movie, clip)
        targets = mouse.stack_responses(indices)
        scores = score_predictions(np.broadcast_to(average, targets.shape), targets, skip)
        for index, corr in zip(indices.tolist(), scores.per_sample.tolist(), strict=True):
            results.append(SampleScore(movie, clip, int(mouse.trials.repeat[index]), corr))
    if not results:
        raise ValueError(f"{mouse.folder}: no {split!r} samples of clip {clip} in any movie")
    return results


def jackknife_oracle(
    folder: MouseFolder | str | Path, split: str | None = None, skip: int = DEFAULT_SKIP
) -> RepeatAverageResult:
    """Leave-one-out oracle: each sample predicted by the mean of every other repeat of its clip.

    Repeats of all splits are used as predictors; ``split`` only selects the scored samples
    (None: every sample). This is the ceiling of what repeat averaging can reach.
    """
    mouse = as_mouse_folder(folder)
    indices = mouse.split_samples(split)
    predictions = np.empty((indices.size, mouse.num_neurons, mouse.num_frames))
    for movie, clip in mouse.clip_keys(indices):
        repeats = mouse.select(movie=movie, clip=clip)
        if repeats.size < 2:
            raise ValueError(
                f"{mouse.folder}: {movie} clip {clip} has a single repeat; the jackknife oracle "
                "needs at least 2 repeats of every scored clip"
            )
        others = leave_one_out_average(mouse.stack_responses(repeats))
        rows = np.searchsorted(indices, repeats)
        in_split = (rows < indices.size) & (indices[np.minimum(rows, indices.size - 1)] == repeats)
        predictions[rows[in_split]] = others[in_split]
    return scored_result(mouse, split, indices, predictions, skip)


def mean_profile(mouse: MouseFolder, indices: np.ndarray) -> np.ndarray:
    """Mean response at each frame index over the given samples, ``(N, T)`` float64."""
    total = np.zeros((mouse.num_neurons, mouse.num_frames))
    for index in np.asarray(indices).tolist():
        total += mouse.responses(index)
    return total / len(indices)


def stimulus_blind_control(
    folder: MouseFolder | str | Path,
    split: str = "test",
    skip: int = DEFAULT_SKIP,
    reference_split: str = "train",
) -> RepeatAverageResult:
    """Predict every sample of ``split`` by the same per-frame profile, ignoring the stimulus.

    The profile is :func:`mean_profile` over every ``reference_split`` sample (all clips and
    repeats): per neuron, the mean response at each frame index of a clip. It captures what is
    common to all clips (e.g. responses to the clip onset) and nothing about the clip shown;
    scored like the model on the same samples and frames as the baseline.
    """
    mouse = as_mouse_folder(folder)
    indices = mouse.split_samples(split)
    references = mouse.split_samples(reference_split, " to average the profile over")
    profile = mean_profile(mouse, references)
    predictions = np.broadcast_to(profile, (indices.size, *profile.shape))
    return scored_result(mouse, split, indices, predictions, skip)
