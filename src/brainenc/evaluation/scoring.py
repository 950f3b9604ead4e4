"""One scoring path for model, baseline and oracle predictions: same frames, same formulas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainenc.evaluation.metrics import (
    DEFAULT_SKIP,
    crop_to_scored,
    per_trial_correlations,
    pooled_correlations,
    scored_frames,
)


@dataclass(frozen=True)
class Scores:
    """Correlations of one predictor on one set of samples.

    Attributes
    ----------
    corr
        Mean single-trial correlation (seed definition).
    corr_pooled
        Mean over neurons of the pooled correlation (Sensorium 2023 definition).
    per_sample
        ``(S,)`` single-trial correlation of each sample (mean over neurons).
    per_neuron
        ``(N,)`` single-trial correlation of each neuron (mean over samples).
    per_neuron_pooled
        ``(N,)`` pooled correlation of each neuron.
    frames
        Scored response frames ``(start, stop)`` of the clip.
    """

    corr: float
    corr_pooled: float
    per_sample: np.ndarray
    per_neuron: np.ndarray
    per_neuron_pooled: np.ndarray
    frames: tuple[int, int]


def score_predictions(
    predictions: np.ndarray, targets: np.ndarray, skip: int = DEFAULT_SKIP
) -> Scores:
    """Score end-aligned predictions against full-length responses on the scored frames.

    Parameters
    ----------
    predictions
        ``(S, N, L)``: the last L frames of each clip (model output: L = T - 24; baseline and
        oracle: L = T).
    targets
        ``(S, N, T)`` recorded responses of the same samples.
    skip
        See :func:`brainenc.evaluation.metrics.scored_frames`.
    """
    targets = np.asarray(targets)
    if targets.ndim != 3:
        raise ValueError(f"targets must be (samples, neurons, frames), got {targets.shape}")
    num_frames = targets.shape[-1]
    window = scored_frames(num_frames, skip)
    predictions = crop_to_scored(np.asarray(predictions), num_frames, skip)
    targets = crop_to_scored(targets, num_frames, skip)
    per_trial = per_trial_correlations(predictions, targets)
    pooled = pooled_correlations(predictions, targets)
    return Scores(
        corr=float(per_trial.mean()),
        corr_pooled=float(pooled.mean()),
        per_sample=per_trial.mean(axis=1),
        per_neuron=per_trial.mean(axis=0),
        per_neuron_pooled=pooled,
        frames=(window.start, window.stop),
    )
