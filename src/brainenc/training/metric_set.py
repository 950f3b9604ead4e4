"""Per-mouse correlation metrics of one stage (validation, test or the test baseline).

Wraps the streaming metrics of :mod:`brainenc.evaluation.streaming`, one instance per mouse, and
turns them into the logged values:

* ``corr/<mouse_id>``: mean single-trial correlation of the mouse; ``corr``: mean over mice;
* ``corr_pooled/<mouse_id>``: pooled correlation of the mouse; ``corr_pooled``: mean over every
  neuron of every mouse (Sensorium 2023).

Mice without any sample in the epoch are left out of every value.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from brainenc.evaluation.streaming import PerTrialCorrelation, PooledCorrelation


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
