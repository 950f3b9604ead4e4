"""Streaming (torchmetrics) correlations equal the batch functions across update() calls."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from brainenc.evaluation.metrics import crop_to_scored, per_trial_correlation, pooled_correlation
from brainenc.evaluation.streaming import PerTrialCorrelation, PooledCorrelation


def batches(seed: int = 0, sizes: tuple[int, ...] = (3, 1, 4)) -> list[tuple[torch.Tensor, ...]]:
    """Float32 (B, 9, 16) predictions and targets with a per-sample offset (pooled != per-trial)."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for size in sizes:
        targets = torch.randn(size, 9, 16, generator=generator) + 3 * torch.rand(size, 1, 1)
        predictions = 0.6 * targets + torch.randn(size, 9, 16, generator=generator)
        out.append((predictions, targets))
    return out


def concatenated(parts: list[tuple[torch.Tensor, ...]]) -> tuple[np.ndarray, np.ndarray]:
    return (
        torch.cat([p for p, _ in parts]).double().numpy(),
        torch.cat([t for _, t in parts]).double().numpy(),
    )


@pytest.mark.parametrize(
    ("metric", "reference"),
    [
        (lambda: PerTrialCorrelation(), per_trial_correlation),
        (lambda: PooledCorrelation(num_neurons=9), pooled_correlation),
    ],
    ids=["per-trial", "pooled"],
)
def test_streaming_equals_batch_function(metric, reference) -> None:
    parts = batches()
    streaming = metric()
    for predictions, targets in parts:
        streaming.update(predictions, targets)
    expected = reference(*concatenated(parts))
    assert streaming.compute().item() == pytest.approx(expected, abs=1e-6)
    streaming.reset()
    streaming.update(*parts[0])
    assert streaming.compute().item() == pytest.approx(
        reference(*concatenated(parts[:1])), abs=1e-6
    )


@pytest.mark.parametrize(
    "metric", [PerTrialCorrelation, lambda: PooledCorrelation(9)], ids=["per-trial", "pooled"]
)
def test_merged_states_equal_one_process(metric) -> None:
    """What DDP does: states of two ranks summed, then computed."""
    parts = batches(seed=1, sizes=(2, 3, 2, 1))
    rank0, rank1, single = metric(), metric(), metric()
    for index, part in enumerate(parts):
        (rank0 if index % 2 == 0 else rank1).update(*part)
        single.update(*part)
    rank0.merge_state(rank1)
    assert rank0.compute().item() == pytest.approx(single.compute().item(), abs=1e-7)


def test_pooled_per_neuron_values() -> None:
    parts = batches(seed=2)
    metric = PooledCorrelation(num_neurons=9, per_neuron=True)
    for part in parts:
        metric.update(*part)
    predictions, targets = concatenated(parts)
    expected = [
        np.corrcoef(predictions[:, n].ravel(), targets[:, n].ravel())[0, 1] for n in range(9)
    ]
    np.testing.assert_allclose(metric.compute().numpy(), expected, atol=1e-6)


@pytest.mark.parametrize(
    "metric", [PerTrialCorrelation, lambda: PooledCorrelation(9)], ids=["per-trial", "pooled"]
)
def test_perfect_and_constant_predictors(metric) -> None:
    targets = torch.randn(4, 9, 16)
    perfect, constant = metric(), metric()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for half in (slice(0, 2), slice(2, 4)):
            perfect.update(2 * targets[half] + 1, targets[half])
            constant.update(torch.full_like(targets[half], 0.3), targets[half])
        assert perfect.compute().item() == pytest.approx(1.0, abs=1e-6)
        assert constant.compute().item() == pytest.approx(0.0, abs=1e-7)
        assert not torch.isnan(constant.compute())


def test_model_output_and_responses_cropped_for_update() -> None:
    """The trainer's use: (B, N, T-24) outputs and (B, N, T) responses cut to one window."""
    responses = torch.randn(2, 9, 60)
    output = responses[..., 24:] * 2.0
    metric = PerTrialCorrelation()
    metric.update(crop_to_scored(output, 60, skip=30), crop_to_scored(responses, 60, skip=30))
    assert metric.compute().item() == pytest.approx(1.0, abs=1e-6)


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="one instance per mouse"):
        PooledCorrelation(num_neurons=5).update(torch.zeros(1, 9, 8), torch.zeros(1, 9, 8))
    with pytest.raises(ValueError, match=r"\(2, 9, 8\) and \(2, 9, 7\)"):
        PerTrialCorrelation().update(torch.zeros(2, 9, 8), torch.zeros(2, 9, 7))
