"""Metric formulas against hand-computed values and independent float64 NumPy references."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from brainenc.evaluation.metrics import (
    correlation_to_average,
    crop_to_scored,
    feve,
    mean_over_neurons,
    normalized_correlation,
    pearson,
    per_trial_correlation,
    per_trial_correlations,
    pooled_correlation,
    pooled_correlations,
    scored_frames,
)

X = np.array([1.0, 2.0, 3.0, 4.0])
Y = np.array([2.0, 4.0, 5.0, 9.0])
# By hand: deviations (-1.5, -.5, .5, 1.5) and (-3, -1, 0, 4); cov = 11/4, var 5/4 and 13/2.
R_XY = (11 / 4) / np.sqrt(5 / 4 * 13 / 2)


def reference_corr(x: np.ndarray, y: np.ndarray) -> float:
    """Independent Pearson r (NumPy's corrcoef), 0 for a constant trace."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


@pytest.mark.parametrize(
    ("num_frames", "skip", "expected"),
    [
        (140, 24, slice(24, 140)),
        (140, 0, slice(24, 140)),
        (140, 50, slice(50, 140)),
        (300, 50, slice(50, 300)),
    ],
    ids=["default", "skip-below-model-offset", "sensorium-skip", "sensorium-trial"],
)
def test_scored_frames(num_frames: int, skip: int, expected: slice) -> None:
    assert scored_frames(num_frames, skip) == expected


@pytest.mark.parametrize(("num_frames", "skip"), [(25, 24), (140, 139), (140, -1)])
def test_scored_frames_rejects_windows_without_two_frames(num_frames: int, skip: int) -> None:
    with pytest.raises(ValueError, match="skip|scored frame"):
        scored_frames(num_frames, skip)


@pytest.mark.parametrize("skip", [24, 50])
def test_model_output_and_responses_are_cut_to_the_same_frames(skip: int) -> None:
    frames = np.arange(140, dtype=np.float64)
    responses = np.broadcast_to(frames, (2, 3, 140))
    model_output = torch.from_numpy(np.broadcast_to(frames[24:], (2, 3, 116)).copy())
    cut_responses = crop_to_scored(responses, 140, skip)
    cut_output = crop_to_scored(model_output, 140, skip)
    assert cut_responses.shape == (2, 3, 140 - skip)
    np.testing.assert_array_equal(cut_responses, cut_output.numpy())
    assert cut_responses[0, 0, 0] == skip


def test_crop_to_scored_rejects_too_short_outputs() -> None:
    with pytest.raises(ValueError, match="last 90 frames"):
        crop_to_scored(np.zeros((1, 2, 80)), 140, skip=50)


def test_pearson_matches_hand_computed_value() -> None:
    # eps = 1e-8 on each std lowers |r| by about 1e-8 * (1/std_x + 1/std_y).
    assert pearson(X, Y) == pytest.approx(R_XY, abs=1e-7)
    assert pearson(X, X[::-1]) == pytest.approx(-1.0, abs=1e-7)


def test_per_trial_and_pooled_match_hand_example() -> None:
    predictions = np.stack([np.stack([X, X]), np.stack([np.full(4, 3.0), X])])
    targets = np.stack([np.stack([Y, X[::-1]]), np.stack([Y, 2 * X + 1])])
    expected = np.array([[R_XY, -1.0], [0.0, 1.0]])
    np.testing.assert_allclose(per_trial_correlations(predictions, targets), expected, atol=1e-7)
    assert per_trial_correlation(predictions, targets) == pytest.approx(expected.mean(), abs=1e-7)
    pooled = [reference_corr(predictions[:, n].ravel(), targets[:, n].ravel()) for n in range(2)]
    np.testing.assert_allclose(pooled_correlations(predictions, targets), pooled, atol=1e-7)
    assert pooled_correlation(predictions, targets) == pytest.approx(np.mean(pooled), abs=1e-7)


def test_random_arrays_match_corrcoef_reference() -> None:
    rng = np.random.default_rng(1)
    targets = rng.normal(size=(5, 7, 30))
    predictions = 0.5 * targets + rng.normal(size=targets.shape)
    per_trial = [
        [reference_corr(p, t) for p, t in zip(ps, ts, strict=True)]
        for ps, ts in zip(predictions, targets, strict=True)
    ]
    assert per_trial_correlation(predictions, targets) == pytest.approx(
        np.mean(per_trial), abs=1e-7
    )
    pooled = [reference_corr(predictions[:, n].ravel(), targets[:, n].ravel()) for n in range(7)]
    assert pooled_correlation(predictions, targets) == pytest.approx(np.mean(pooled), abs=1e-7)
    # Per-trial centres each sample: a per-sample offset changes pooled, not per-trial.
    shifted = predictions + 10.0 * np.arange(5)[:, None, None]
    assert per_trial_correlation(shifted, targets) == pytest.approx(
        per_trial_correlation(predictions, targets), abs=1e-9
    )
    assert pooled_correlation(shifted, targets) < pooled_correlation(predictions, targets) - 0.1


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.01, 100.0), offset=st.floats(-100.0, 100.0), seed=st.integers(0, 999))
def test_perfect_predictor_scores_one(scale: float, offset: float, seed: int) -> None:
    targets = np.random.default_rng(seed).normal(size=(3, 4, 20))
    predictions = scale * targets + offset
    # 1 up to the eps on each std: 1e-8 / (0.01 * std) at the smallest scale.
    assert per_trial_correlation(predictions, targets) == pytest.approx(1.0, abs=1e-5)
    assert pooled_correlation(predictions, targets) == pytest.approx(1.0, abs=1e-5)


def test_constant_predictions_and_targets_score_zero_without_warnings() -> None:
    targets = np.random.default_rng(2).normal(size=(3, 4, 20))
    constant = np.full_like(targets, 0.7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for predictions, recorded in (
            (constant, targets),
            (targets, constant),
            (constant, constant),
        ):
            # Exactly 0 up to the rounding of mean(0.7, ..., 0.7) != 0.7.
            assert per_trial_correlation(predictions, recorded) == pytest.approx(0.0, abs=1e-12)
            assert pooled_correlation(predictions, recorded) == pytest.approx(0.0, abs=1e-12)


def test_non_finite_predictions_count_as_zero() -> None:
    targets = np.random.default_rng(3).normal(size=(1, 2, 10))
    predictions = targets.copy()
    predictions[0, 0, 4] = np.nan
    np.testing.assert_allclose(
        per_trial_correlations(predictions, targets), [[0.0, 1.0]], atol=1e-7
    )


def test_shape_mismatch_is_reported() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3, 10\) and \(2, 3, 9\)"):
        per_trial_correlation(np.zeros((2, 3, 10)), np.zeros((2, 3, 9)))


def test_correlation_to_average_hand_example() -> None:
    targets = np.array([[[1.0, 2.0, 4.0]], [[1.0, 3.0, 4.0]]])  # (R=2, N=1, T=3)
    predictions = np.array([[[0.0, 1.0, 3.0]], [[0.0, 2.0, 2.0]]])
    expected = reference_corr(np.array([0.0, 1.5, 2.5]), np.array([1.0, 2.5, 4.0]))
    np.testing.assert_allclose(correlation_to_average(predictions, targets), [expected], atol=1e-7)
    # Two clips: the mean over clips; a (N, T) prediction is shared by all repeats.
    second = np.array([[[0.0, 1.0, 0.0]], [[0.0, 2.0, 0.0]]])
    shared = np.array([[1.0, 0.0, 1.0]])
    both = correlation_to_average([predictions, shared], [targets, second])
    np.testing.assert_allclose(both, [(expected - 1.0) / 2], atol=1e-7)


def test_cc_norm_hand_example() -> None:
    # y1 = (1, 2, 4), y2 = (1, 3, 4): var(y1 + y2) = 9, var(y1) = var(y2) = 7/3 (ddof 1),
    # SP = (9 - 14/3) / 2 = 13/6; mean response (1, 2.5, 4); prediction (0, 1, 3): cov = 9/4,
    # var = 7/3, so CC_norm = (9/4) / sqrt(7/3 * 13/6).
    targets = np.array([[[1.0, 2.0, 4.0]], [[1.0, 3.0, 4.0]]])
    prediction = np.array([[0.0, 1.0, 3.0]])
    expected = (9 / 4) / np.sqrt(7 / 3 * 13 / 6)
    np.testing.assert_allclose(normalized_correlation(prediction, targets), [expected], rtol=1e-7)


def test_cc_norm_without_signal_power_is_nan_without_warnings() -> None:
    anti_correlated = np.array([[[1.0, 2.0, 3.0]], [[3.0, 2.0, 1.0]]])  # SP = -1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = normalized_correlation(np.array([[0.0, 1.0, 2.0]]), anti_correlated)
        assert np.isnan(values).all()
        assert mean_over_neurons(values) is None


def test_feve_hand_example() -> None:
    # Frames (0, 2) and (2, 4) across two repeats: noise var 2, total var 8/3, MSE of (1, 3) = 1.
    targets = np.array([[[0.0, 2.0]], [[2.0, 4.0]]])
    prediction = np.array([[1.0, 3.0]])
    np.testing.assert_allclose(feve(prediction, targets), [1 - (1 - 2) / (8 / 3 - 2)], rtol=1e-9)


def test_feve_matches_reference_over_several_clips() -> None:
    rng = np.random.default_rng(4)
    signal = [rng.normal(size=(3, 12)) for _ in range(3)]
    targets = [
        s + rng.normal(scale=0.5, size=(repeats, 3, 12))
        for s, repeats in zip(signal, (2, 3, 4), strict=True)
    ]
    predictions = [s + rng.normal(scale=0.3, size=s.shape) for s in signal]
    noise = np.concatenate([t.var(axis=0, ddof=1) for t in targets], axis=1).mean(axis=1)
    flat = np.concatenate([t.transpose(1, 0, 2).reshape(3, -1) for t in targets], axis=1)
    errors = np.concatenate(
        [
            ((t - p) ** 2).transpose(1, 0, 2).reshape(3, -1)
            for t, p in zip(targets, predictions, strict=True)
        ],
        axis=1,
    )
    expected = 1 - (errors.mean(axis=1) - noise) / (flat.var(axis=1, ddof=1) - noise)
    np.testing.assert_allclose(feve(predictions, targets), expected, rtol=1e-9)
    # The true signal explains nearly all explainable variance.
    assert np.all(feve(signal, targets) > feve(predictions, targets))


def test_repeated_clip_metrics_reject_single_repeats() -> None:
    with pytest.raises(ValueError, match="repeats >= 2"):
        feve(np.zeros((1, 2, 5)), np.zeros((1, 2, 5)))
