"""Streaming correlation metrics for Lightning (torchmetrics), equal to the batch functions.

Both metrics take ``update(predictions, targets)`` with ``(B, N, T')`` tensors already cut to the
scored frames (:func:`brainenc.evaluation.metrics.crop_to_scored`). Their states are float64
sums reduced with ``sum`` across processes, so results under DDP equal a single-process run.
Use one instance per mouse (N differs between mice). Non-finite targets (damaged recorded
responses) are refused, as in the batch functions.

- :class:`PerTrialCorrelation` equals :func:`~brainenc.evaluation.metrics.per_trial_correlation`
  over every sample seen (``val/corr``).
- :class:`PooledCorrelation` equals :func:`~brainenc.evaluation.metrics.pooled_correlation`
  over every sample seen (``val/corr_pooled``).
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from brainenc.evaluation.metrics import DAMAGED_RESPONSES_HINT, EPS


def _check_batch(predictions: torch.Tensor, targets: torch.Tensor, metric: str) -> None:
    if predictions.ndim != 3 or predictions.shape != targets.shape:
        raise ValueError(
            f"{metric}.update expects predictions and targets of one shape (batch, neurons, "
            f"frames), cut to the scored frames; got {tuple(predictions.shape)} and "
            f"{tuple(targets.shape)}"
        )
    if predictions.shape[-1] < 2:
        raise ValueError(f"{metric}.update needs at least 2 frames, got {predictions.shape[-1]}")
    if not bool(torch.isfinite(targets).all()):
        bad = (~torch.isfinite(targets)).nonzero()[0].tolist()
        raise ValueError(
            f"{metric}.update: the recorded responses hold "
            f"{int((~torch.isfinite(targets)).sum())} non-finite value(s) (first at batch "
            f"sample {bad[0]}, neuron {bad[1]}, scored frame {bad[2]}): {DAMAGED_RESPONSES_HINT}"
        )


def _correlation_from_moments(
    count: torch.Tensor,
    sum_x: torch.Tensor,
    sum_y: torch.Tensor,
    sum_xx: torch.Tensor,
    sum_yy: torch.Tensor,
    sum_xy: torch.Tensor,
    eps: float,
) -> torch.Tensor:
    """Pearson r with population std + eps from raw sums over ``count`` frames; NaN -> 0."""
    mean_x = sum_x / count
    mean_y = sum_y / count
    covariance = sum_xy / count - mean_x * mean_y
    std_x = (sum_xx / count - mean_x**2).clamp(min=0).sqrt()
    std_y = (sum_yy / count - mean_y**2).clamp(min=0).sqrt()
    r = covariance / ((std_x + eps) * (std_y + eps))
    return torch.nan_to_num(r, nan=0.0)


class PerTrialCorrelation(Metric):
    """Mean single-trial correlation (the seed's ``val/corr``) over all samples seen.

    State: the running sum of per-sample correlations (each the mean over neurons of the
    per-neuron Pearson r over frames) and the number of samples.

    Parameters
    ----------
    eps
        Added to each standard deviation (constant traces score 0).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, eps: float = EPS, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.eps = eps
        self.add_state("correlation_sum", torch.zeros((), dtype=torch.float64), "sum")
        self.add_state("num_samples", torch.zeros((), dtype=torch.float64), "sum")

    def update(self, predictions: torch.Tensor, targets: torch.Tensor) -> None:
        """Add a batch of ``(B, N, T')`` predictions and targets (scored frames only)."""
        _check_batch(predictions, targets, type(self).__name__)
        x = predictions.detach().to(torch.float64)
        y = targets.detach().to(torch.float64)
        x = x - x.mean(dim=-1, keepdim=True)
        y = y - y.mean(dim=-1, keepdim=True)
        covariance = (x * y).mean(dim=-1)
        std_x = (x**2).mean(dim=-1).sqrt()
        std_y = (y**2).mean(dim=-1).sqrt()
        r = torch.nan_to_num(covariance / ((std_x + self.eps) * (std_y + self.eps)), nan=0.0)
        self.correlation_sum += r.mean(dim=1).sum()
        self.num_samples += r.shape[0]

    def compute(self) -> torch.Tensor:
        """Mean over samples (float32 scalar); NaN before any update."""
        return (self.correlation_sum / self.num_samples).to(torch.float32)


class PooledCorrelation(Metric):
    """Per-neuron correlation pooled over all samples and frames seen (Sensorium 2023).

    State per neuron: frame count and the sums of x, y, x², y², xy (float64).

    Parameters
    ----------
    num_neurons
        N of the mouse this instance scores.
    per_neuron
        If True, ``compute`` returns the ``(N,)`` correlations instead of their mean.
    eps
        Added to each standard deviation (constant traces score 0).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(
        self, num_neurons: int, per_neuron: bool = False, eps: float = EPS, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)
        if num_neurons < 1:
            raise ValueError(f"PooledCorrelation needs num_neurons >= 1, got {num_neurons}")
        self.num_neurons = num_neurons
        self.per_neuron = per_neuron
        self.eps = eps
        self.add_state("count", torch.zeros((), dtype=torch.float64), "sum")
        for name in ("sum_x", "sum_y", "sum_xx", "sum_yy", "sum_xy"):
            self.add_state(name, torch.zeros(num_neurons, dtype=torch.float64), "sum")

    def update(self, predictions: torch.Tensor, targets: torch.Tensor) -> None:
        """Add a batch of ``(B, N, T')`` predictions and targets (scored frames only)."""
        _check_batch(predictions, targets, type(self).__name__)
        if predictions.shape[1] != self.num_neurons:
            raise ValueError(
                f"PooledCorrelation was built for {self.num_neurons} neurons, got a batch with "
                f"{predictions.shape[1]}: use one instance per mouse"
            )
        x = predictions.detach().to(torch.float64)
        y = targets.detach().to(torch.float64)
        self.count += x.shape[0] * x.shape[2]
        self.sum_x += x.sum(dim=(0, 2))
        self.sum_y += y.sum(dim=(0, 2))
        self.sum_xx += (x * x).sum(dim=(0, 2))
        self.sum_yy += (y * y).sum(dim=(0, 2))
        self.sum_xy += (x * y).sum(dim=(0, 2))

    def compute(self) -> torch.Tensor:
        """Mean over neurons (float32 scalar), or ``(N,)`` when ``per_neuron``."""
        r = _correlation_from_moments(
            self.count, self.sum_x, self.sum_y, self.sum_xx, self.sum_yy, self.sum_xy, self.eps
        )
        return (r if self.per_neuron else r.mean()).to(torch.float32)
