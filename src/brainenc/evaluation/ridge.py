"""Ridge reference model: a linear map from lagged, pooled video and behaviour to responses.

A documented, cheap reference that any encoding model should beat. Everything is read from the
built mouse folder in its stored (normalised) space and scored by
:func:`~brainenc.evaluation.scoring.score_predictions` like the model.

Features of response frame ``t`` of a clip (``D = 5 x 148 = 740``, plus an intercept):

- per frame, 148 values: the video frame average-pooled to 9 x 16 (144; a 36 x 64 frame gives
  exact 4 x 4 blocks, other frame sizes use adaptive average pooling, PyTorch's
  ``adaptive_avg_pool2d`` bins ``[floor(i H / 9), ceil((i + 1) H / 9))``), behaviour (2: pupil
  size, running speed) and pupil centre (2: x, y);
- 5 causal lag bins of 3 frames: bin ``k`` is the mean of those values over frames
  ``t - 3k - 2 .. t - 3k`` (bin 0: ``t-2..t``, bin 4: ``t-14..t-12``), so nothing after frame
  ``t`` is used.

The model predicts frames ``14 .. T-1`` only (end-aligned, like the model's ``T - 24`` outputs):
all their lag bins lie inside the clip, so no padding is ever needed, and the scored frames start
at 24 or later. It is fitted on frames ``14 .. T-1`` of every training sample. Features are
standardised with the mean and standard deviation of those training rows (a constant feature
keeps scale 1, i.e. becomes 0); the unpenalised intercept is then the training mean response.

All neurons are solved at once in closed form: with ``X^T X = V diag(e) V^T``,
``W(lambda) = V diag(1 / (e + lambda)) V^T X^T Y``, so a grid of penalties costs one
eigendecomposition. One ``lambda`` for all neurons is chosen from :data:`LAMBDAS` by the mean
single-trial correlation on the validation split (ties go to the larger ``lambda``), and the fit
is scored once on the requested split. Scoring the validation split itself reports the selection
score, an optimistic estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainenc.data.mouse_folder import REBUILD_CLAUSE, MouseFolder, as_mouse_folder
from brainenc.evaluation.baseline import RepeatAverageResult, scored_result
from brainenc.evaluation.metrics import DEFAULT_SKIP, scored_frames
from brainenc.evaluation.scoring import score_predictions

POOLED_SIZE = (9, 16)
LAG_BINS = 5
BIN_FRAMES = 3
MAX_LAG = LAG_BINS * BIN_FRAMES - 1
"""Oldest frame a prediction looks back to (14): the first predicted frame of a clip."""
LAMBDAS = tuple(float(10.0**power) for power in np.arange(0.0, 6.25, 0.5))
"""Ridge penalties tried: 1e0 .. 1e6 in half decades (features are standardised, so the
diagonal of ``X^T X`` is the number of training frames, ~1e4 on a demo mouse)."""


def pooling_matrix(size_in: int, size_out: int) -> np.ndarray:
    """Adaptive average pooling of one axis as a ``(size_out, size_in)`` matrix.

    Row ``i`` averages inputs ``floor(i * size_in / size_out)`` to
    ``ceil((i + 1) * size_in / size_out) - 1`` (PyTorch's ``adaptive_avg_pool`` bins).
    """
    if size_in < 1 or size_out < 1:
        raise ValueError(f"cannot pool {size_in} values into {size_out}")
    matrix = np.zeros((size_out, size_in))
    for row in range(size_out):
        start = (row * size_in) // size_out
        stop = -((-(row + 1) * size_in) // size_out)
        matrix[row, start:stop] = 1.0 / (stop - start)
    return matrix


def frame_features(video: np.ndarray, behavior: np.ndarray, pupil_center: np.ndarray) -> np.ndarray:
    """Per-frame features of one sample.

    Parameters
    ----------
    video
        ``(1, T, H, W)`` stored video.
    behavior, pupil_center
        ``(2, T)`` each.

    Returns
    -------
    np.ndarray
        ``(T, 9 * 16 + 4)`` float64: pooled pixels (row-major), behaviour, pupil centre.
    """
    frames = np.asarray(video, dtype=np.float64)[0]
    rows = pooling_matrix(frames.shape[1], POOLED_SIZE[0])
    columns = pooling_matrix(frames.shape[2], POOLED_SIZE[1])
    pooled = rows @ frames @ columns.T
    return np.concatenate(
        [
            pooled.reshape(len(frames), -1),
            np.asarray(behavior, dtype=np.float64).T,
            np.asarray(pupil_center, dtype=np.float64).T,
        ],
        axis=1,
    )


def lagged_features(frames: np.ndarray) -> np.ndarray:
    """Causal lag bins of per-frame features.

    Parameters
    ----------
    frames
        ``(T, F)`` per-frame features of one clip, ``T > 14``.

    Returns
    -------
    np.ndarray
        ``(T - 14, 5 * F)``: row ``j`` belongs to frame ``t = 14 + j``; columns
        ``k * F .. (k + 1) * F - 1`` hold the mean over frames ``t - 3k - 2 .. t - 3k``.
    """
    num_frames = len(frames)
    if num_frames <= MAX_LAG:
        raise ValueError(f"clips of {num_frames} frames are too short for {MAX_LAG} frames of lag")
    cumulative = np.concatenate([np.zeros((1, frames.shape[1])), np.cumsum(frames, axis=0)])
    bins = []
    for k in range(LAG_BINS):
        newest = np.arange(MAX_LAG, num_frames) - BIN_FRAMES * k  # frame t - 3k
        bins.append((cumulative[newest + 1] - cumulative[newest + 1 - BIN_FRAMES]) / BIN_FRAMES)
    return np.concatenate(bins, axis=1)


def design_matrix(mouse: MouseFolder, indices: np.ndarray) -> np.ndarray:
    """Raw (unstandardised) features of the given samples, ``(S * (T - 14), 740)`` float64.

    Rows are sample-major: sample ``s``, frame ``14 + j`` is row ``s * (T - 14) + j``.
    """
    blocks = []
    for index in np.asarray(indices).tolist():
        features = frame_features(
            mouse.video(index), mouse.behavior(index), mouse.pupil_center(index)
        )
        if len(features) != mouse.num_frames:
            raise ValueError(
                f"{mouse.folder}: the inputs of sample {index} have {len(features)} frames, its "
                f"responses {mouse.num_frames}; {REBUILD_CLAUSE}"
            )
        if not np.isfinite(features).all():
            raise ValueError(
                f"{mouse.folder}: the video, behavior or pupil_center of sample {index} hold "
                f"non-finite values; {REBUILD_CLAUSE}"
            )
        blocks.append(lagged_features(features))
    return np.concatenate(blocks)


def response_rows(mouse: MouseFolder, indices: np.ndarray) -> np.ndarray:
    """Responses of frames ``14 .. T-1`` as rows matching :func:`design_matrix`: ``(R, N)``."""
    responses = mouse.stack_responses(indices)[..., MAX_LAG:]
    return responses.transpose(0, 2, 1).reshape(-1, mouse.num_neurons).astype(np.float64)


@dataclass(frozen=True)
class RidgeFit:
    """Closed-form ridge solutions for every penalty, from one eigendecomposition.

    Attributes
    ----------
    mean, scale
        ``(D,)`` standardisation: ``x' = (x - mean) * scale``.
    intercept
        ``(N,)`` training mean response.
    eigenvalues
        ``(D,)`` of ``X'^T X'`` (standardised training features).
    eigenvectors
        ``(D, D)`` columns ``V``.
    projected
        ``(D, N)`` ``V^T X'^T Y``.
    """

    mean: np.ndarray
    scale: np.ndarray
    intercept: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    projected: np.ndarray

    def weights(self, penalty: float) -> np.ndarray:
        """``(D, N)`` weights on standardised features for ridge penalty ``penalty``."""
        return self.eigenvectors @ (self.projected / (self.eigenvalues + penalty)[:, None])

    def predict(self, features: np.ndarray, penalties: tuple[float, ...]) -> list[np.ndarray]:
        """``(R, N)`` predictions from raw features ``(R, D)``, one per penalty."""
        rotated = ((features - self.mean) * self.scale) @ self.eigenvectors
        return [
            self.intercept + (rotated / (self.eigenvalues + penalty)) @ self.projected
            for penalty in penalties
        ]


def fit_ridge(features: np.ndarray, targets: np.ndarray) -> RidgeFit:
    """Fit every neuron at once.

    Parameters
    ----------
    features
        ``(R, D)`` raw training features.
    targets
        ``(R, N)`` training responses.
    """
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    scale = 1.0 / np.where(std > 0, std, 1.0)
    standardised = (features - mean) * scale
    eigenvalues, eigenvectors = np.linalg.eigh(standardised.T @ standardised)
    projected = eigenvectors.T @ (standardised.T @ targets)
    return RidgeFit(
        mean=mean,
        scale=scale,
        intercept=targets.mean(axis=0),
        eigenvalues=np.clip(eigenvalues, 0.0, None),
        eigenvectors=eigenvectors,
        projected=projected,
    )


@dataclass(frozen=True)
class RidgeResult:
    """The ridge reference of one mouse folder.

    Attributes
    ----------
    penalty
        The chosen ``lambda``.
    validation_curve
        ``lambda`` -> mean single-trial correlation on the validation split.
    result
        Scores of the chosen fit on the requested split; ``predictions`` ``(S, N, T - 14)``
        hold frames ``14 .. T-1`` (end-aligned).
    num_features
        ``D``, without the intercept.
    num_training_frames
        Rows of the fit (training samples x ``(T - 14)``).
    """

    penalty: float
    validation_curve: dict[float, float]
    result: RepeatAverageResult
    num_features: int
    num_training_frames: int

    @property
    def value(self) -> float:
        """Mean single-trial correlation on the requested split."""
        return self.result.scores.corr


def _as_samples(rows: np.ndarray, num_samples: int) -> np.ndarray:
    """``(S * L, N)`` rows to ``(S, N, L)``."""
    return rows.reshape(num_samples, -1, rows.shape[-1]).transpose(0, 2, 1)


def ridge_reference(
    mouse: MouseFolder | str | Path,
    split: str = "test",
    skip: int = DEFAULT_SKIP,
    penalties: tuple[float, ...] = LAMBDAS,
) -> RidgeResult:
    """Fit the ridge on ``train``, choose ``lambda`` on ``validation``, score on ``split``.

    Parameters
    ----------
    mouse
        Built mouse folder.
    split
        Scored samples.
    skip
        See :func:`~brainenc.evaluation.metrics.scored_frames`; used for selection and scoring.
    penalties
        Ridge penalties to choose from.
    """
    mouse = as_mouse_folder(mouse)
    scored_frames(mouse.num_frames, skip)  # checks skip; scored frames start at >= 24 > MAX_LAG
    if not penalties:
        raise ValueError("the ridge needs at least one penalty to choose from")
    train = mouse.split_samples("train", "; the ridge needs one")
    fit = fit_ridge(design_matrix(mouse, train), response_rows(mouse, train))
    validation = mouse.split_samples("validation", "; the ridge needs one")
    targets = mouse.stack_responses(validation)
    curve = {
        float(penalty): score_predictions(_as_samples(rows, validation.size), targets, skip).corr
        for penalty, rows in zip(
            penalties, fit.predict(design_matrix(mouse, validation), penalties), strict=True
        )
    }
    chosen = max(sorted(curve, reverse=True), key=curve.__getitem__)
    indices = mouse.split_samples(split, "; the ridge needs one")
    rows = fit.predict(design_matrix(mouse, indices), (chosen,))[0]
    result = scored_result(mouse, split, indices, _as_samples(rows, indices.size), skip)
    return RidgeResult(
        penalty=chosen,
        validation_curve=curve,
        result=result,
        num_features=fit.mean.size,
        num_training_frames=train.size * (mouse.num_frames - MAX_LAG),
    )
