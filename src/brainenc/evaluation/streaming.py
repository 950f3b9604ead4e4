"""What Lightning scores with: streaming correlation metrics equal to the batch functions, per
mouse, and the trial-average baseline's predictions.

Both metrics take ``update(predictions, targets)`` with ``(B, N, T')`` tensors already cut to the
scored frames (:func:`brainenc.evaluation.metrics.crop_to_scored`). Their states are float64
sums reduced with ``sum`` across processes, so results under DDP equal a single-process run.
Use one instance per mouse (N differs between mice). Non-finite targets (damaged recorded
responses) are refused, as in the batch functions.

- :class:`PerTrialCorrelation` equals :func:`~brainenc.evaluation.metrics.per_trial_correlation`
  over every sample seen (``val/corr``).
- :class:`PooledCorrelation` equals :func:`~brainenc.evaluation.metrics.pooled_correlation`
  over every sample seen (``val/corr_pooled``).
- :class:`CorrelationMetrics` holds both for every mouse of a stage (validation, test or the test
  baseline) and turns them into the logged values: ``corr/<mouse_id>``, the mean single-trial
  correlation of the mouse, and ``corr``, the mean over mice; ``corr_pooled/<mouse_id>``, the
  pooled correlation of the mouse, and ``corr_pooled``, the mean over every neuron of every mouse
  (Sensorium 2023). Mice without any sample in the epoch are left out of every value.
- :class:`BaselineTable` predicts each test sample by the mean response over the training
  repeats of its clip (:func:`brainenc.evaluation.baseline.clip_trial_average`), scored in
  ``test_step`` by the same metrics and on the same frames as the model (``baseline/test/corr``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from brainenc.data.mouse_folder import MouseFolder
from brainenc.evaluation.baseline import clip_trial_average
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


class CorrelationMetrics(nn.Module):
    """Streaming ``corr`` and ``corr_pooled`` for every mouse of ``neurons`` (mouse id → N)."""

    def __init__(self, neurons: Mapping[str, int]) -> None:
        super().__init__()
        self.per_trial = nn.ModuleDict({m: PerTrialCorrelation() for m in neurons})
        self.pooled = nn.ModuleDict(
            {m: PooledCorrelation(n, per_neuron=True) for m, n in neurons.items()}
        )

    def update(self, mouse_id: str, predictions: Tensor, targets: Tensor) -> None:
        """Add ``(B, N, T')`` predictions and targets of one mouse, cut to the scored frames."""
        if mouse_id not in self.per_trial:
            raise KeyError(f"no metrics for mouse {mouse_id!r}; known mice: {list(self.per_trial)}")
        self.per_trial[mouse_id].update(predictions, targets)
        self.pooled[mouse_id].update(predictions, targets)

    def compute_and_reset(self) -> dict[str, float]:
        """The logged values (see module docstring); empty when no mouse had a sample."""
        values: dict[str, float] = {}
        per_mouse: list[float] = []
        pooled_neurons: list[Tensor] = []
        with warnings.catch_warnings():
            # Under DDP every process computes every mouse (the state sync is collective), also
            # mice it saw no sample of; those come back NaN and are left out below.
            warnings.filterwarnings(
                "ignore", message=r".*compute.*before.*update", category=UserWarning
            )
            for mouse_id in self.per_trial:
                corr = float(self.per_trial[mouse_id].compute())
                pooled = self.pooled[mouse_id].compute()
                # Fresh states must be normal tensors: a validate/test run computes under
                # inference mode, and a later fit updates them outside it.
                with torch.inference_mode(False):
                    self.per_trial[mouse_id].reset()
                    self.pooled[mouse_id].reset()
                if corr != corr:  # NaN: no sample of this mouse
                    continue
                per_mouse.append(corr)
                pooled_neurons.append(pooled)
                values[f"corr/{mouse_id}"] = corr
                values[f"corr_pooled/{mouse_id}"] = float(pooled.mean())
        if per_mouse:
            values["corr"] = sum(per_mouse) / len(per_mouse)
            values["corr_pooled"] = float(torch.cat(pooled_neurons).mean())
        return values


class BaselineTable:
    """Trial averages ``(N, T)`` per mouse and ``(movie, clip)``.

    Parameters
    ----------
    averages
        ``{mouse_id: {(movie, clip): (N, T) tensor}}``.
    """

    def __init__(self, averages: Mapping[str, Mapping[tuple[str, int], Tensor]]) -> None:
        self.averages = {m: dict(clips) for m, clips in averages.items()}

    @classmethod
    def from_folders(
        cls, folders: Mapping[str, str | Path], split: str = "test", reference_split: str = "train"
    ) -> BaselineTable | None:
        """Average the ``reference_split`` repeats of every clip of ``split`` for each mouse.

        Returns None when some scored clip has no reference repeat (the baseline cannot predict
        clips unseen in training, e.g. with splits by clip).
        """
        averages: dict[str, dict[tuple[str, int], Tensor]] = {}
        for mouse_id, path in folders.items():
            mouse = MouseFolder(path)
            keys = mouse.clip_keys(mouse.select(split=split))
            if any(mouse.select(reference_split, movie, clip).size == 0 for movie, clip in keys):
                return None
            averages[mouse_id] = {
                key: torch.from_numpy(
                    clip_trial_average(mouse, *key, split=reference_split)
                ).float()
                for key in keys
            }
        return cls(averages)

    def predict(self, mouse_id: str, batch: Mapping[str, Any]) -> Tensor:
        """Trial averages ``(B, N, T)`` for the samples of a batch (uses its ``movie`` and ``clip``)."""
        movies = batch["movie"]
        movies = [movies] if isinstance(movies, str) else list(movies)
        clips = torch.as_tensor(batch["clip"]).reshape(-1).tolist()
        table = self.averages.get(mouse_id)
        if table is None:
            raise KeyError(f"baseline: no trial averages for mouse {mouse_id!r}")
        missing = [(m, c) for m, c in zip(movies, clips, strict=True) if (m, c) not in table]
        if missing:
            raise KeyError(f"baseline: mouse {mouse_id!r} has no trial average for clips {missing}")
        return torch.stack([table[(m, c)] for m, c in zip(movies, clips, strict=True)])
