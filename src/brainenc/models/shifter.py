"""Per-mouse MLP shifter: pupil centre -> shift of every neuron's readout location."""

from __future__ import annotations

import torch
from torch import nn


class MLPShifter(nn.Module):
    """Tanh MLP from the pupil centre of each frame to a grid shift in (-1, 1).

    ``mlp`` = ``Linear(2, hidden), Tanh, ..., Linear(hidden, 2), Tanh`` with ``num_layers`` Linear
    layers (3 layers of width 5: 57 parameters). PyTorch's default initialisation is used, as in the
    authors' runs (their Xavier initialisation never ran).

    Parameters
    ----------
    hidden_features
        Width of the hidden layers.
    num_layers
        Number of Linear layers (at least 1).
    """

    def __init__(self, hidden_features: int = 5, num_layers: int = 3) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"shifter num_layers must be at least 1, got {num_layers}")
        # Kept for the checkpoint layout: the authors' L1 regulariser scale, always 0.
        self.register_buffer("reg_scale", torch.tensor(0.0))
        layers: list[nn.Module] = []
        width = 2
        for _ in range(num_layers - 1):
            layers += [nn.Linear(width, hidden_features), nn.Tanh()]
            width = hidden_features
        layers += [nn.Linear(width, 2), nn.Tanh()]
        self.mlp = nn.Sequential(*layers)

    def forward(self, pupil_center: torch.Tensor) -> torch.Tensor:
        """``(B, 2, t)`` pupil centre -> ``(B, 2, t)`` shift (x, y) in grid units, per frame."""
        return self.mlp(pupil_center.transpose(1, 2)).transpose(1, 2)
