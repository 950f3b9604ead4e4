"""Training losses comparing predicted and recorded responses, always computed in float32.

Every loss takes ``predictions`` and ``targets`` of shape ``(B, N, T')`` already aligned (the
module cuts the recorded responses to the model's last ``T'`` frames).

* ``correlation`` (the default): ``1 - mean_{b,n} r_{b,n}``, with ``r_{b,n}`` the Pearson
  correlation over the ``T'`` frames of sample ``b`` and neuron ``n`` (population variances,
  ``eps`` added to each): the mean single-trial correlation the runs are scored
  with. It ignores each trace's offset and scale, which in single trials carry the trial-to-trial
  gain and baseline no stimulus model can predict; on the calibrated in-silico mice it lifts the
  demo's test score from level with the trial average to 1.5x it
  (``benchmarks/results/demo_recipe.md``).
* ``mse`` (the seed's choice): mean squared error over every element.
* ``poisson_correlation`` (the ViV1T authors', ``viv1t.md`` §6)::

      L = sum_{b,n,t} [(y_hat + eps) - (y + eps) * log(y_hat + eps)] + w * sum_n (1 - r_n)

  with ``eps`` the float32 machine epsilon, ``w`` the correlation weight (1000 in the authors'
  runs) and ``r_n`` the Pearson correlation of neuron ``n`` over the flattened batch and time axes
  (population standard deviations, ``eps`` added to each). With ``dataset_scaling`` the sum is
  multiplied by ``sqrt(n_train_samples / batch_size)`` of the batch's mouse, as the authors do.
  The Poisson term needs positive predictions (exp/softplus/ELU+1 output) and non-negative
  targets (``normalization=viv1t`` responses); the run checks this before training.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

LOSS_NAMES = ("mse", "poisson_correlation", "correlation")
_EPS = torch.finfo(torch.float32).eps


def _as_float32(predictions: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    if predictions.shape != targets.shape:
        raise ValueError(
            f"loss: predictions have shape {tuple(predictions.shape)} but targets have shape "
            f"{tuple(targets.shape)}; both must be (B, N, T') over the same scored frames."
        )
    return predictions.float(), targets.float()


def neuron_correlation(predictions: Tensor, targets: Tensor, eps: float = _EPS) -> Tensor:
    """Pearson correlation per neuron over the flattened batch and time axes.

    Parameters
    ----------
    predictions, targets
        ``(B, N, T)`` tensors.
    eps
        Added to each population standard deviation, so constant traces give 0, not NaN.

    Returns
    -------
    Tensor
        ``(N,)`` correlations.
    """
    p = predictions.transpose(0, 1).reshape(predictions.shape[1], -1)
    y = targets.transpose(0, 1).reshape(targets.shape[1], -1)
    p = p - p.mean(dim=1, keepdim=True)
    y = y - y.mean(dim=1, keepdim=True)
    p_std = p.pow(2).mean(dim=1).sqrt() + eps
    y_std = y.pow(2).mean(dim=1).sqrt() + eps
    return (p * y).mean(dim=1) / (p_std * y_std)


def trial_correlation(predictions: Tensor, targets: Tensor, eps: float = _EPS) -> Tensor:
    """Pearson correlation over time of each sample and neuron: ``(B, N, T)`` -> ``(B, N)``.

    Population variances with ``eps`` added, so a constant trace gives 0 and a finite gradient.
    """
    p = predictions - predictions.mean(dim=-1, keepdim=True)
    y = targets - targets.mean(dim=-1, keepdim=True)
    p_std = (p.pow(2).mean(dim=-1) + eps).sqrt()
    y_std = (y.pow(2).mean(dim=-1) + eps).sqrt()
    return (p * y).mean(dim=-1) / (p_std * y_std)


class CorrelationLoss(nn.Module):
    """``1 - mean_{b,n} r_{b,n}``: the single-trial correlation the runs are scored with, over the
    loss's frames. Blind to each trace's offset and scale, so the model spends nothing on the
    trial-to-trial gain and baseline it cannot see."""

    def forward(self, predictions: Tensor, targets: Tensor, mouse_id: str | None = None) -> Tensor:
        predictions, targets = _as_float32(predictions, targets)
        return 1.0 - trial_correlation(predictions, targets).mean()


class MSELoss(nn.Module):
    """Mean squared error over every element of ``(B, N, T')``, in float32."""

    def forward(self, predictions: Tensor, targets: Tensor, mouse_id: str | None = None) -> Tensor:
        predictions, targets = _as_float32(predictions, targets)
        return torch.mean((predictions - targets) ** 2)


class PoissonCorrelationLoss(nn.Module):
    """The ViV1T authors' summed Poisson loss plus a correlation penalty (see module docstring).

    Parameters
    ----------
    correlation_weight
        Weight ``w`` of ``sum_n (1 - r_n)``; 0 gives the plain summed Poisson loss.
    train_samples
        Training samples per mouse, used by dataset scaling; ``None`` disables it.
    """

    def __init__(
        self, correlation_weight: float = 1000.0, train_samples: dict[str, int] | None = None
    ) -> None:
        super().__init__()
        if correlation_weight < 0:
            raise ValueError(
                f"loss.correlation_weight must be >= 0, got {correlation_weight}; "
                "use 0 to disable the correlation term."
            )
        self.correlation_weight = float(correlation_weight)
        self.train_samples = dict(train_samples) if train_samples else None

    def forward(self, predictions: Tensor, targets: Tensor, mouse_id: str | None = None) -> Tensor:
        predictions, targets = _as_float32(predictions, targets)
        poisson = torch.sum((predictions + _EPS) - (targets + _EPS) * torch.log(predictions + _EPS))
        loss = poisson
        if self.correlation_weight:
            r = neuron_correlation(predictions, targets)
            loss = loss + self.correlation_weight * torch.sum(1.0 - r)
        if self.train_samples is not None:
            if mouse_id not in self.train_samples:
                raise KeyError(
                    f"loss dataset scaling: no training sample count for mouse {mouse_id!r}; "
                    f"known mice: {sorted(self.train_samples)}."
                )
            loss = loss * math.sqrt(self.train_samples[mouse_id] / predictions.shape[0])
        return loss


def check_loss_settings(name: str, normalisation: str | None = None) -> None:
    """Refuse an unknown ``loss.name``, or a Poisson loss on z-scored (signed) responses."""
    if name not in LOSS_NAMES:
        raise ValueError(f"loss.name={name!r}; valid: {', '.join(LOSS_NAMES)}.")
    if name == "poisson_correlation" and normalisation == "seed":
        raise ValueError(
            "loss.name=poisson_correlation needs non-negative responses, but "
            "data.build.normalisation=seed z-scores them; use data.build.normalisation=viv1t "
            "(the authors' response scaling) or loss.name=mse."
        )


def build_loss(
    name: str,
    correlation_weight: float = 1000.0,
    dataset_scaling: bool = False,
    train_samples: dict[str, int] | None = None,
) -> nn.Module:
    """Build a loss by name: the ``loss`` config node, a ``_partial_`` of this function that the
    run completes with ``train_samples``.

    Parameters
    ----------
    name
        One of :data:`LOSS_NAMES`.
    correlation_weight, dataset_scaling
        Settings of the Poisson + correlation loss (ignored by the others).
    train_samples
        Training samples per mouse (needed when ``dataset_scaling`` is on).
    """
    check_loss_settings(name)
    if name == "mse":
        return MSELoss()
    if name == "correlation":
        return CorrelationLoss()
    if dataset_scaling and not train_samples:
        raise ValueError(
            "loss.dataset_scaling=true needs the number of training samples per mouse; "
            "none were given."
        )
    return PoissonCorrelationLoss(correlation_weight, train_samples if dataset_scaling else None)
