"""Per-mouse Gaussian readout with a grid predicted from neuron coordinates."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def normalized_source_grid(neuron_coordinates: torch.Tensor) -> torch.Tensor:
    """Centre ``(N, 2)`` coordinates per axis and divide by the single largest absolute value.

    Coincident neurons (all coordinates equal) give an all-zero grid instead of dividing by zero.
    """
    centred = neuron_coordinates - neuron_coordinates.mean(dim=0, keepdim=True)
    largest = centred.abs().max()
    return centred / largest if largest > 0 else centred


class GaussianReadout(nn.Module):
    """Full-covariance Gaussian readout of one mouse (the authors' ``Gaussian2DReadout``).

    Each neuron reads the core's feature map at a location ``mu`` predicted by ``mu_transform``
    from its normalised cortical (x, y) position (``source_grid``); in training the location is
    sampled around ``mu`` with the 2 x 2 square-root covariance ``sigma``. The shifter's output is
    added after clamping the location to [-1, 1]. An encoding of the behaviour (``state_encoder``)
    is added to every sampled feature before the per-neuron weighting by ``features``.

    Parameters
    ----------
    neuron_coordinates
        ``(N, 2)`` cortical (x, y) positions of the neurons, any unit.
    mean_responses
        ``(N,)`` mean response per neuron in the model's response space, the initial ``bias``;
        zeros when None.
    in_channels
        Channels C of the core's feature map.
    hidden_features
        Width of the ``mu_transform`` hidden layer.
    init_sigma
        ``sigma`` is initialised uniformly in ``[-init_sigma, init_sigma]``.
    dropout
        Dropout inside ``state_encoder``.
    """

    def __init__(
        self,
        neuron_coordinates: torch.Tensor,
        mean_responses: torch.Tensor | None,
        in_channels: int,
        hidden_features: int = 30,
        init_sigma: float = 1.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        num_neurons = neuron_coordinates.shape[0]
        # Kept for the checkpoint layout: the authors' L1 regulariser scale, always 0.
        self.register_buffer("reg_scale", torch.tensor(0.0))
        self.mu_transform = nn.Sequential(
            nn.Linear(2, hidden_features), nn.ELU(), nn.Linear(hidden_features, 2), nn.Tanh()
        )
        self.register_buffer("source_grid", normalized_source_grid(neuron_coordinates.float()))
        self.sigma = nn.Parameter(
            torch.empty(1, num_neurons, 2, 2).uniform_(-init_sigma, init_sigma)
        )
        self.state_encoder = nn.Sequential(
            nn.Linear(4, in_channels),
            nn.LayerNorm(in_channels),
            nn.GELU(),
            nn.Dropout(p=dropout),
            nn.Linear(in_channels, in_channels),
            nn.Tanh(),
        )
        self.features = nn.Parameter(torch.full((1, in_channels, num_neurons), 1.0 / in_channels))
        bias = torch.zeros(num_neurons) if mean_responses is None else mean_responses.float()
        self.bias = nn.Parameter(bias.clone())

    @property
    def num_neurons(self) -> int:
        return self.bias.shape[0]

    @torch.no_grad()
    def place(self, positions: torch.Tensor, sigma: float, ridge: float = 1e-3) -> None:
        """Start the read positions at ``positions`` and the jitter at ``sigma``.

        ``mu_transform`` keeps its layout: its hidden layer stays as initialised and its output
        layer is refitted by ridge regression so that ``mu_transform(source_grid)`` approximates
        ``positions``; a smooth function of cortical position, as retinotopy is. Identical
        positions for every neuron are met exactly (output weights 0, bias ``atanh(position)``).

        Parameters
        ----------
        positions
            ``(N, 2)`` target (x, y) in ``grid_sample`` units, inside (-1, 1).
        sigma
            ``sigma`` is redrawn uniformly in ``[-sigma, sigma]`` (grid units).
        ridge
            Penalty on the output weights, relative to the mean squared hidden activation.
        """
        if tuple(positions.shape) != (self.num_neurons, 2):
            raise ValueError(
                f"positions must have shape (N, 2) = ({self.num_neurons}, 2), "
                f"got {tuple(positions.shape)}"
            )
        if sigma < 0:
            raise ValueError(f"sigma must be non-negative, got {sigma}")
        output = self.mu_transform[2]
        hidden = self.mu_transform[1](self.mu_transform[0](self.source_grid))  # (N, H)
        targets = torch.atanh(positions.to(hidden).clamp(-0.999, 0.999))  # (N, 2)
        offset = targets.mean(dim=0)
        centred = hidden - hidden.mean(dim=0)
        gram = centred.T @ centred
        penalty = ridge * (gram.diagonal().mean() + 1e-12) * len(hidden)
        eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
        weight = torch.linalg.solve(gram + penalty * eye, centred.T @ (targets - offset))  # (H, 2)
        output.weight.copy_(weight.T)
        output.bias.copy_(offset - hidden.mean(dim=0) @ weight)
        self.sigma.uniform_(-sigma, sigma)

    def grid(self, batch_size: int) -> torch.Tensor:
        """Readout locations ``(batch_size, N, 1, 2)`` in ``grid_sample`` (x, y) units, clamped.

        Sampled around ``mu`` in training mode, exactly ``mu`` in eval mode.
        """
        mu = self.mu_transform(self.source_grid)  # (N, 2)
        if not self.training:
            return mu.clamp(-1.0, 1.0).expand(batch_size, -1, -1).unsqueeze(2)
        noise = torch.randn(batch_size, self.num_neurons, 2, device=mu.device, dtype=mu.dtype)
        sampled = torch.einsum("ncd,bnd->bnc", self.sigma[0], noise) + mu
        return sampled.clamp(-1.0, 1.0).unsqueeze(2)

    def forward(
        self,
        features: torch.Tensor,
        shift: torch.Tensor | None,
        behavior: torch.Tensor,
        pupil_center: torch.Tensor,
    ) -> torch.Tensor:
        """Responses ``(B, N, t)`` before the output activation.

        Parameters
        ----------
        features
            Core output ``(B, C, t, Ph, Pw)``.
        shift
            ``(B, 2, t)`` shifter output (x, y) in grid units, or None.
        behavior, pupil_center
            ``(B, 2, t)`` each, aligned with the t output frames.
        """
        b, c, t, h, w = features.shape
        frames = features.transpose(1, 2).reshape(b * t, c, h, w)
        grid = self.grid(b * t)
        if shift is not None:
            grid = grid + shift.transpose(1, 2).reshape(b * t, 1, 1, 2)
        sampled = F.grid_sample(frames, grid, align_corners=True)[..., 0]  # (B*t, C, N)
        states = torch.cat((behavior, pupil_center), dim=1).transpose(1, 2).reshape(b * t, 4)
        states = self.state_encoder(states)  # (B*t, C)
        weights = self.features[0]  # (C, N)
        # sum_c (sampled + state) * weight, without materialising the (B*t, C, N) sum
        outputs = torch.einsum("bcn,cn->bn", sampled, weights) + states @ weights + self.bias
        return outputs.view(b, t, -1).transpose(1, 2)
