"""Correlation and explained-variance metrics for predicted neural responses (float64 NumPy).

Layouts: ``predictions`` and ``targets`` are ``(S, N, T)`` arrays (S samples, i.e. clip
presentations; N neurons; T frames), already cut to the scored frames with :func:`crop_to_scored`.
Metrics over repeated clips take one ``(R, N, T)`` array per clip (R repeats of the same clip).

Pearson correlations use the population standard deviation plus ``eps`` in the denominator, as
neuralpredictors' ``corr`` does::

    r = mean_t((x - mean_t x)(y - mean_t y)) / ((std_t x + eps) (std_t y + eps))

so a constant trace scores 0 (up to rounding) without NaN warnings, and a perfect predictor scores
``1 - O(eps / std)``. Recorded responses (targets) must be finite: a NaN or infinity there is
damaged data and is refused with the sample, neuron and frame named, since it would silently
shift every score. NaN correlations from non-finite predictions count as 0, as the Sensorium
scorer does. The streaming versions for Lightning are in
:mod:`brainenc.evaluation.streaming`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PREDICTION_OFFSET = 24
"""Frames a model consumes before its first prediction, for scoring where no model is at hand:
that of ViV1T with its default ``temporal_patch_size`` 25 (``brainenc.models.core.frame_offset``),
whose output of length ``T - 24`` is aligned to the last ``T - 24`` frames of a T-frame clip. The
training loop scores with its model's own offset."""

DEFAULT_SKIP = 24
EPS = 1e-8
MIN_SIGNAL_POWER = 1e-4

DEFINITIONS = {
    "corr": "mean single-trial correlation (seed): Pearson r over the scored frames of each "
    "sample and neuron, averaged over neurons, then over samples; per mouse, overall = mean "
    "over mice",
    "corr_pooled": "pooled correlation (Sensorium 2023): per neuron, Pearson r over all scored "
    "frames of all samples concatenated, then mean over neurons",
    "corr_to_average": "correlation to average: per clip with >= 2 repeats, Pearson r between "
    "the repeat-averaged prediction and recording, mean over clips, then over neurons",
    "cc_norm": "normalized correlation CC_norm (Schoppe 2016): covariance of repeat means over "
    "sqrt(prediction variance x signal power), per clip; clips with signal power <= 1e-4 are "
    "ignored; mean over clips, then over neurons with a value",
    "feve": "fraction of explainable variance explained: 1 - (MSE - noise variance) / (total "
    "variance - noise variance), per neuron over all frames of repeated clips; mean over "
    "neurons with explainable variance (noisy with few repeats: 2 per test clip)",
    "frames": "scored frames: the last T - max(24, skip) frames of each T-frame clip, for "
    "model, baseline and oracle alike",
    "baseline": "trial average: each sample is predicted by the mean response of the training "
    "repeats of the same clip",
    "oracle": "jackknife oracle: each sample is predicted by the mean of all other repeats of "
    "the same clip (the ceiling of repeat averaging)",
    "stimulus_blind": "stimulus-blind control: every sample is predicted by the same per-frame "
    "profile, the mean training response at each frame index of a clip (no stimulus)",
    "ridge": "ridge reference: linear model of the video average-pooled to 9x16, behaviour and "
    "pupil centre in 5 causal lag bins of 3 frames (t-14..t), fitted on the training split, "
    "penalty chosen by validation corr",
    "stimulus_locked_truth": "stimulus-locked truth (in-silico): each sample is predicted by the "
    "noise-free signal averaged over every repeat of its clip (the best behaviour-blind model)",
    "noise_ceiling": "noise ceiling (in-silico): each sample is predicted by its own noise-free "
    "signal",
    "fraction_of_ceiling": "corr / noise ceiling corr, on the same samples and frames",
}
"""Plain-language definitions of every metric name, stored beside the values in metrics.json."""


def check_skip(skip: Any, setting: str = "skip") -> None:
    """Refuse a ``skip`` that is not a whole number of frames >= 0."""
    if isinstance(skip, bool) or not isinstance(skip, int | np.integer) or skip < 0:
        raise ValueError(f"{setting} must be an integer >= 0 (frames), got {skip!r}.")


def scored_frames(
    num_frames: int, skip: int = DEFAULT_SKIP, offset: int = PREDICTION_OFFSET
) -> slice:
    """Response frames that are scored in clips of ``num_frames`` frames.

    Parameters
    ----------
    num_frames
        Clip length T in frames.
    skip
        Frames to leave out at the clip start; at least ``offset`` are always left out, since the
        model predicts only the last ``T - offset`` frames.
    offset
        The model's prediction offset in frames (:data:`PREDICTION_OFFSET`, 24, by default).

    Returns
    -------
    slice
        ``slice(max(offset, skip), T)`` in response-frame indices.
    """
    check_skip(skip)
    start = max(int(offset), int(skip))
    if num_frames <= start + 1:
        raise ValueError(
            f"clips of {num_frames} frames leave {max(num_frames - start, 0)} scored frame(s) "
            f"after skipping {start}; correlations need at least 2: lower skip or use longer clips"
        )
    return slice(start, int(num_frames))


def crop_to_scored(
    values: Any, num_frames: int, skip: int = DEFAULT_SKIP, offset: int = PREDICTION_OFFSET
) -> Any:
    """Cut the scored frames out of an end-aligned array.

    Parameters
    ----------
    values
        NumPy array or torch tensor ``(..., L)`` whose last axis holds the last L frames of a
        T-frame clip: responses (L = T) or model outputs (L = T - offset).
    num_frames
        Clip length T in frames.
    skip, offset
        See :func:`scored_frames`.

    Returns
    -------
    array or tensor
        ``(..., T - max(offset, skip))``, the same frames whatever L was.
    """
    window = scored_frames(num_frames, skip, offset)
    kept = window.stop - window.start
    length = values.shape[-1]
    if length > num_frames or length < kept:
        raise ValueError(
            f"an array covering the last {length} frames of a {num_frames}-frame clip cannot be "
            f"scored on its last {kept} frames (skip={skip}): expected between {kept} and "
            f"{num_frames} frames on the last axis"
        )
    return values[..., length - kept :]


def pearson(x: Any, y: Any, axis: int = -1, eps: float = EPS) -> np.ndarray:
    """Pearson correlation along ``axis`` with population std + ``eps`` (see module docstring).

    Returns the correlations with ``axis`` removed, float64; NaN (non-finite input) becomes 0.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"pearson needs arrays of one shape, got {x.shape} and {y.shape}")
    x_centred = x - x.mean(axis=axis, keepdims=True)
    y_centred = y - y.mean(axis=axis, keepdims=True)
    covariance = (x_centred * y_centred).mean(axis=axis)
    x_std = np.sqrt((x_centred**2).mean(axis=axis))
    y_std = np.sqrt((y_centred**2).mean(axis=axis))
    r = covariance / ((x_std + eps) * (y_std + eps))
    return np.where(np.isnan(r), 0.0, r)


DAMAGED_RESPONSES_HINT = (
    "scores would be silently wrong. The dataset is damaged or was edited; check it with "
    "verify=hash and rebuild it with `python -m brainenc.data.build data.build.overwrite=true`"
)


def check_finite_targets(targets: np.ndarray, axes: Sequence[str]) -> None:
    """Refuse recorded responses holding NaN or infinities, naming the first one.

    Parameters
    ----------
    targets
        Responses of any layout whose axes are named by ``axes``, e.g. ("sample", "neuron",
        "frame") for ``(S, N, T)``.
    """
    bad = ~np.isfinite(targets)
    if bad.any():
        first = ", ".join(f"{a} {i}" for a, i in zip(axes, np.argwhere(bad)[0], strict=True))
        raise ValueError(
            f"the recorded responses hold {int(bad.sum())} non-finite value(s) (first at {first}):"
            f" {DAMAGED_RESPONSES_HINT}"
        )


def _check_samples(predictions: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
    predictions = np.asarray(predictions, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if predictions.ndim != 3 or predictions.shape != targets.shape:
        raise ValueError(
            "predictions and targets must both be (samples, neurons, frames) arrays of one "
            f"shape, got {predictions.shape} and {targets.shape}"
        )
    if predictions.shape[-1] < 2:
        raise ValueError(f"correlations need at least 2 frames, got {predictions.shape[-1]}")
    check_finite_targets(targets, ("sample", "neuron", "frame"))
    return predictions, targets


def per_trial_correlations(predictions: Any, targets: Any) -> np.ndarray:
    """Single-trial correlation of every sample and neuron.

    ``r[s, n] = pearson_t(predictions[s, n, :], targets[s, n, :])``.

    Parameters
    ----------
    predictions, targets
        ``(S, N, T)`` over the scored frames.

    Returns
    -------
    np.ndarray
        ``(S, N)`` float64.
    """
    predictions, targets = _check_samples(predictions, targets)
    return pearson(predictions, targets, axis=-1)


def per_trial_correlation(predictions: Any, targets: Any) -> float:
    """Mean single-trial correlation, the seed's metric (``val/corr``, ``test/corr``).

    ``(1/S) sum_s (1/N) sum_n r[s, n]`` with r from :func:`per_trial_correlations`.
    """
    return float(per_trial_correlations(predictions, targets).mean())


def pooled_correlations(predictions: Any, targets: Any) -> np.ndarray:
    """Per-neuron correlation pooled over samples and frames (Sensorium 2023).

    ``r[n] = pearson over (s, t) of predictions[:, n, :] and targets[:, n, :]``, i.e. every
    sample's scored frames concatenated into one trace per neuron.

    Returns
    -------
    np.ndarray
        ``(N,)`` float64.
    """
    predictions, targets = _check_samples(predictions, targets)
    num_neurons = predictions.shape[1]
    pooled_predictions = predictions.transpose(1, 0, 2).reshape(num_neurons, -1)
    pooled_targets = targets.transpose(1, 0, 2).reshape(num_neurons, -1)
    return pearson(pooled_predictions, pooled_targets, axis=-1)


def pooled_correlation(predictions: Any, targets: Any) -> float:
    """Mean over neurons of :func:`pooled_correlations` (``val/corr_pooled``)."""
    return float(pooled_correlations(predictions, targets).mean())


def _clip_pairs(predictions: Any, targets: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pair per-clip predictions with per-clip targets ``(R, N, T)``.

    A prediction of shape ``(N, T)`` (the same for every repeat) is broadcast over repeats.
    """
    if isinstance(targets, np.ndarray) and targets.ndim == 3:
        targets, predictions = [targets], [predictions]
    if not isinstance(targets, Sequence | np.ndarray) or len(targets) == 0:
        raise ValueError("repeated-clip metrics need a non-empty list of (R, N, T) clip arrays")
    if len(predictions) != len(targets):
        raise ValueError(
            f"got predictions for {len(predictions)} clips, targets for {len(targets)}"
        )
    pairs = []
    num_neurons = None
    for index, (prediction, target) in enumerate(zip(predictions, targets, strict=True)):
        target = np.asarray(target, dtype=np.float64)
        prediction = np.asarray(prediction, dtype=np.float64)
        if target.ndim != 3 or target.shape[0] < 2 or target.shape[-1] < 2:
            raise ValueError(
                f"clip {index}: expected targets (repeats >= 2, neurons, frames >= 2), got "
                f"{target.shape}; leave out clips with a single repeat"
            )
        check_finite_targets(target, (f"clip {index}: repeat", "neuron", "frame"))
        if prediction.shape == target.shape[1:]:
            prediction = np.broadcast_to(prediction, target.shape)
        if prediction.shape != target.shape:
            raise ValueError(
                f"clip {index}: predictions {prediction.shape} do not match targets {target.shape}"
            )
        if num_neurons is not None and target.shape[1] != num_neurons:
            raise ValueError(f"clip {index} has {target.shape[1]} neurons, others {num_neurons}")
        num_neurons = target.shape[1]
        pairs.append((prediction, target))
    return pairs


def correlation_to_average(predictions: Any, targets: Any) -> np.ndarray:
    """Correlation between repeat-averaged predictions and recordings.

    For clip k with repeats r: ``c[k, n] = pearson_t(mean_r p[k, r, n], mean_r y[k, r, n])``;
    returns ``mean_k c[k, n]``.

    Parameters
    ----------
    predictions, targets
        One ``(R_k, N, T)`` array per clip, or a single ``(R, N, T)`` array (one clip).
        Predictions may be ``(N, T)`` per clip.

    Returns
    -------
    np.ndarray
        ``(N,)`` float64.
    """
    pairs = _clip_pairs(predictions, targets)
    per_clip = [pearson(p.mean(axis=0), y.mean(axis=0), axis=-1) for p, y in pairs]
    return np.mean(per_clip, axis=0)


def normalized_correlation(
    predictions: Any, targets: Any, min_signal_power: float = MIN_SIGNAL_POWER
) -> np.ndarray:
    """CC_norm of Schoppe et al. (2016), per neuron.

    For a clip with R repeats ``y_r`` (bars: means over repeats, variances over frames, ddof 1)::

        SP      = (var(sum_r y_r) - sum_r var(y_r)) / (R (R - 1))        signal power
        CC_norm = cov(y_bar, p_bar) / (sqrt(var(p_bar) SP) + 1e-8)

    Clips with ``SP <= min_signal_power`` (squared response units) are ignored; the result is
    the mean over the remaining clips.

    Returns
    -------
    np.ndarray
        ``(N,)`` float64; NaN for a neuron with no clip above the signal-power threshold.
    """
    pairs = _clip_pairs(predictions, targets)
    total = np.zeros(pairs[0][1].shape[1])
    count = np.zeros_like(total)
    for prediction, target in pairs:
        num_repeats = target.shape[0]
        target_mean = target.mean(axis=0)
        prediction_mean = prediction.mean(axis=0)
        covariance = np.sum(
            (target_mean - target_mean.mean(axis=-1, keepdims=True))
            * (prediction_mean - prediction_mean.mean(axis=-1, keepdims=True)),
            axis=-1,
        ) / (target.shape[-1] - 1)
        signal_power = (
            target.sum(axis=0).var(axis=-1, ddof=1) - target.var(axis=-1, ddof=1).sum(axis=0)
        ) / (num_repeats * (num_repeats - 1))
        valid = signal_power > min_signal_power
        prediction_variance = prediction_mean.var(axis=-1, ddof=1)
        denominator = np.sqrt(prediction_variance * np.where(valid, signal_power, 1.0)) + 1e-8
        total += np.where(valid, covariance / denominator, 0.0)
        count += valid
    return np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)


def feve(predictions: Any, targets: Any) -> np.ndarray:
    """Fraction of explainable variance explained, per neuron (neuralpredictors' ``fev``).

    Every frame of every clip is a stimulus with R repeats. Over all clips k, repeats r, frames t::

        noise_var = mean_{k,t} var_r(y[k, :, n, t])          (ddof 1)
        total_var = var_{k,r,t}(y[k, r, n, t])               (ddof 1)
        mse       = mean_{k,r,t}((y - p)[k, r, n, t] ** 2)
        FEVE      = 1 - (mse - noise_var) / (total_var - noise_var)

    Returns
    -------
    np.ndarray
        ``(N,)`` float64; NaN where ``total_var <= noise_var`` (no explainable variance).
    """
    pairs = _clip_pairs(predictions, targets)
    noise_variance = np.mean(
        np.concatenate([y.var(axis=0, ddof=1) for _, y in pairs], axis=-1), axis=-1
    )
    all_targets = np.concatenate(
        [y.transpose(1, 0, 2).reshape(y.shape[1], -1) for _, y in pairs], 1
    )
    total_variance = all_targets.var(axis=-1, ddof=1)
    squared_errors = np.concatenate(
        [((y - p) ** 2).transpose(1, 0, 2).reshape(y.shape[1], -1) for p, y in pairs], axis=1
    )
    explainable = total_variance - noise_variance
    unexplained = squared_errors.mean(axis=-1) - noise_variance
    return np.divide(
        explainable - unexplained,
        explainable,
        out=np.full_like(explainable, np.nan),
        where=explainable > 0,
    )


def mean_over_neurons(values: np.ndarray) -> float | None:
    """Mean of the finite per-neuron values; ``None`` when there are none (no NaN warnings)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else None
