"""Start each new mouse's Gaussian readout where its neurons' receptive fields are.

The authors' readout starts its read positions from a randomly initialised ``mu_transform``,
typically 0.4-0.6 grid units away from the receptive fields (an RF envelope spans ~0.1), and a
jitter ``sigma`` of up to 1 grid unit; gradient descent rarely finds the neurons from there.
`PopulationPeak` places them from the training split instead:

1. The core (pretrained, or freshly initialised) runs over the training samples of the mouse in
   eval mode. At every grid position ``p`` the responses of all N neurons are regressed on the
   core's C features there (ridge, on the scored frames: the last ``T - skip`` of each clip),
   accumulated as ``(C + 1) x (C + 1)`` and ``(C + 1) x N`` moments, so memory does not grow
   with the data.
2. The fraction of each neuron's variance explained at ``p`` gives a map ``R2_n(p)``; its mean
   over neurons is the population map. Neurons of one imaging field see a small region of the
   screen (retinotopy), so the map peaks where the population's receptive fields are.
3. Every neuron starts at the peak, refined to sub-patch precision by the ``R2``-weighted
   centroid of the positions within ``peak_fraction`` of the maximum; ``sigma`` starts small,
   and the mouse's shifter starts at zero shift (its output layer is zeroed), so training
   moves from the located positions rather than from a random offset.

Per-neuron peaks are not used: on single neurons the maps are too noisy to beat the population
peak, which gradient descent then refines per neuron (``mu_transform`` is a smooth function of
cortical position, as retinotopy is). Only training data are used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from brainenc.evaluation.metrics import crop_to_scored
from brainenc.training.console import announce


@dataclass(frozen=True)
class PopulationMap:
    """Where one mouse's neurons are best explained by the core's features.

    Attributes
    ----------
    explained
        ``(Ph, Pw)`` mean over neurons of the fraction of variance explained at each position.
    peak
        ``(2,)`` (x, y) of the refined peak in ``grid_sample`` units (align_corners=True).
    frames
        Number of frames the map was estimated from.
    """

    explained: Tensor
    peak: Tensor
    frames: int


class _Moments:
    """Running sums for a ridge of ``(frames, N)`` responses on ``(frames, C)`` features per position."""

    def __init__(self) -> None:
        self.xx: Tensor | None = None  # (P, C+1, C+1)
        self.xy: Tensor | None = None  # (P, C+1, N)
        self.yy: Tensor | None = None  # (N,)
        self.y: Tensor | None = None  # (N,)
        self.frames = 0

    def update(self, features: Tensor, responses: Tensor) -> None:
        """``features (B, C, t, Ph, Pw)`` and ``responses (B, N, t)`` of the same frames."""
        b, c, t, h, w = features.shape
        x = features.permute(3, 4, 0, 2, 1).reshape(h * w, b * t, c).double()
        x = torch.cat((x, torch.ones_like(x[..., :1])), dim=-1)
        y = responses.permute(0, 2, 1).reshape(b * t, -1).double()
        xx, xy = x.transpose(1, 2) @ x, x.transpose(1, 2) @ y
        yy, ys = (y * y).sum(0), y.sum(0)
        if self.xx is None:
            self.xx, self.xy, self.yy, self.y = xx, xy, yy, ys
        else:
            self.xx += xx
            self.xy += xy
            self.yy += yy
            self.y += ys
        self.frames += b * t

    def explained(self, ridge: float) -> Tensor:
        """``(P, N)`` fraction of each neuron's variance explained at each position."""
        if self.xx is None or self.frames < 2:
            raise ValueError("readout initialisation: no training frames to locate the neurons")
        n = self.frames
        mean_x = self.xx[:, -1, :-1] / n  # (P, C)
        mean_y = self.y / n  # (N,)
        cxx = self.xx[:, :-1, :-1] / n - mean_x[:, :, None] * mean_x[:, None, :]
        cxy = self.xy[:, :-1, :] / n - mean_x[:, :, None] * mean_y[None, None, :]
        vy = (self.yy / n - mean_y**2).clamp_min(1e-12)
        scale = cxx.diagonal(dim1=1, dim2=2).mean(dim=1).clamp_min(1e-12)  # (P,)
        eye = torch.eye(cxx.shape[-1], dtype=cxx.dtype)
        beta = torch.linalg.solve(cxx + ridge * scale[:, None, None] * eye, cxy)
        return ((beta * cxy).sum(dim=1) / vy).float()


def _grid_axis(size: int) -> Tensor:
    return torch.linspace(-1.0, 1.0, size) if size > 1 else torch.zeros(1)


def refined_peak(explained: Tensor, peak_fraction: float) -> Tensor:
    """(x, y) centroid of the positions of ``explained (Ph, Pw)`` within ``peak_fraction`` of the max."""
    h, w = explained.shape
    low = explained.min()
    top = explained.max()
    threshold = top - (1.0 - peak_fraction) * (top - low)
    weights = (explained - threshold).clamp_min(0.0)
    if weights.sum() <= 0:
        weights = torch.ones_like(explained)
    weights = weights / weights.sum()
    ys, xs = _grid_axis(h), _grid_axis(w)
    return torch.stack(((weights.sum(0) * xs).sum(), (weights.sum(1) * ys).sum()))


@dataclass
class PopulationPeak:
    """Read positions of new mice start at the peak of their population map (module docstring).

    Parameters
    ----------
    sigma
        Initial read-position jitter: ``sigma`` drawn uniformly in ``[-sigma, sigma]`` grid units.
    ridge
        Ridge penalty of the per-position regressions, relative to the mean feature variance.
    peak_fraction
        Positions whose map value is within this fraction of the maximum (relative to the range)
        form the refined peak.
    max_samples
        Training samples of each mouse used at most (evenly spaced); None for all.
    batch_size
        Samples per forward pass of the core.
    """

    sigma: float = 0.1
    ridge: float = 1e-2
    peak_fraction: float = 0.9
    max_samples: int | None = 64
    batch_size: int = 4

    def __post_init__(self) -> None:
        if self.sigma < 0 or self.ridge <= 0 or not 0 < self.peak_fraction <= 1:
            raise ValueError(
                "readout_init: expected sigma >= 0, ridge > 0 and 0 < peak_fraction <= 1, got "
                f"sigma={self.sigma}, ridge={self.ridge}, peak_fraction={self.peak_fraction}"
            )
        if self.max_samples is not None and self.max_samples < 1:
            raise ValueError(
                f"readout_init.max_samples must be >= 1 or null, got {self.max_samples}"
            )

    def locate(
        self, model: nn.Module, samples: Iterable[Mapping[str, Any]], skip: int
    ) -> PopulationMap:
        """The population map of one mouse from its training ``samples`` (dataset items)."""
        moments = _Moments()
        batch: list[Mapping[str, Any]] = []
        core = model.core
        was_training = core.training
        core.eval()
        try:
            with torch.no_grad():
                for sample in samples:
                    batch.append(sample)
                    if len(batch) == self.batch_size:
                        self._accumulate(core, batch, moments, skip)
                        batch = []
                if batch:
                    self._accumulate(core, batch, moments, skip)
        finally:
            core.train(was_training)
        grid = core.grid_shape
        explained = moments.explained(self.ridge).mean(dim=1).reshape(grid)
        return PopulationMap(explained, refined_peak(explained, self.peak_fraction), moments.frames)

    @staticmethod
    def _accumulate(
        core: nn.Module, batch: list[Mapping[str, Any]], moments: _Moments, skip: int
    ) -> None:
        stacked = {
            k: torch.stack([s[k] for s in batch])
            for k in ("video", "behavior", "pupil_center", "responses")
        }
        parameter = next(core.parameters())
        features = core(
            stacked["video"].to(parameter),
            stacked["behavior"].to(parameter),
            stacked["pupil_center"].to(parameter),
        )  # (B, C, t, Ph, Pw)
        responses = stacked["responses"]
        frames = responses.shape[-1]
        t = features.shape[2]
        offset = frames - t  # the core's prediction offset
        cropped = crop_to_scored(features.permute(0, 1, 3, 4, 2), frames, skip, offset).permute(
            0, 1, 4, 2, 3
        )
        moments.update(
            cropped.float().cpu(), crop_to_scored(responses[..., -t:], frames, skip, offset)
        )

    def apply(
        self, model: nn.Module, datasets: Mapping[str, Any], mouse_ids: Iterable[str], skip: int
    ) -> dict[str, PopulationMap]:
        """Place the readouts of ``mouse_ids`` from their training ``datasets``; returns the maps."""
        maps = {}
        for mouse_id in mouse_ids:
            dataset = datasets[mouse_id]
            n = len(dataset)
            count = n if self.max_samples is None else min(n, self.max_samples)
            picks = torch.linspace(0, n - 1, count).round().long().unique().tolist() if n else []
            found = self.locate(model, (dataset[i] for i in picks), skip)
            readout = model.readouts[mouse_id]
            positions = found.peak.expand(readout.num_neurons, 2)
            readout.place(positions, sigma=self.sigma)
            shifter_output = model.shifters[mouse_id].mlp[-2]
            with torch.no_grad():
                shifter_output.weight.zero_()
                shifter_output.bias.zero_()
            announce(
                f"readout_init: mouse {mouse_id} read positions start at the population peak "
                f"(x {found.peak[0]:+.3f}, y {found.peak[1]:+.3f}; map max "
                f"{found.explained.max():.3f} from {found.frames} training frames)"
            )
            maps[mouse_id] = found
        return maps
