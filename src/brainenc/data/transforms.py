"""Invertible normalisations built from training statistics.

Every normalisation used here is affine, x' = (x - shift) * scale, so one class covers both
modes and its inverse is exact:

| variable | `seed` (default) | `viv1t` (ViV1T `transform_mode=2`) |
|---|---|---|
| video | min-max, global: (v - min) / (max - min) | (v - mean[t,h,w]) / (std[t,h,w] - mean[t,h,w]) |
| behavior, pupil_center | min-max per channel | min-max per channel and frame index |
| responses | z-score per neuron: (r - mean[n]) / std[n] | r * precision[n,t] |

precision[n,t] = 1 / std[n,t] where std[n,t] > 0.01 * mean(std), else 1 / (0.01 * mean(std)).
The viv1t video formula is the released code's (it reads `mean` as "min" and `std` as "max").
A zero denominator (a constant pixel, channel or neuron in the training split) gets scale 1,
i.e. the value is only shifted; `degenerate_counts` reports how often that happened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# Axis of time in every per-sample layout: video (1, T, h, w), others (C, T).
TIME_AXIS = 1
PRECISION_FLOOR = 0.01

ArrayLike = np.ndarray | torch.Tensor


@dataclass(frozen=True)
class AffineTransform:
    """x' = (x - shift) * scale with parameters broadcast over one sample.

    Attributes
    ----------
    shift, scale
        float32 arrays with the sample's number of dimensions; the time axis has length 1
        (same parameters for every frame) or the number of frame indices the statistics cover.
    """

    shift: np.ndarray
    scale: np.ndarray

    def forward(self, x: ArrayLike, start: int = 0) -> ArrayLike:
        """Normalise `x` (one sample, or a batch with leading axes) whose frame 0 is `start`."""
        shift, scale = self._parameters(x, start)
        return (x - shift) * scale

    def inverse(self, x: ArrayLike, start: int = 0) -> ArrayLike:
        """Undo `forward`."""
        shift, scale = self._parameters(x, start)
        return x / scale + shift

    def _parameters(self, x: ArrayLike, start: int) -> tuple[ArrayLike, ArrayLike]:
        frames = x.shape[x.ndim - self.shift.ndim + TIME_AXIS]
        shift, scale = self.shift, self.scale
        if shift.shape[TIME_AXIS] != 1:
            stop = start + frames
            if start < 0 or stop > shift.shape[TIME_AXIS]:
                raise ValueError(
                    f"frames {start}..{stop - 1} are outside the {shift.shape[TIME_AXIS]} "
                    "frame indices covered by the per-frame statistics."
                )
            index = [slice(None)] * shift.ndim
            index[TIME_AXIS] = slice(start, stop)
            shift, scale = shift[tuple(index)], scale[tuple(index)]
        if isinstance(x, torch.Tensor):
            as_tensor = {"dtype": x.dtype, "device": x.device}
            return torch.as_tensor(shift, **as_tensor), torch.as_tensor(scale, **as_tensor)
        return shift.astype(x.dtype, copy=False), scale.astype(x.dtype, copy=False)


class Normaliser:
    """Forward and inverse normalisation of the four variables of a sample.

    Build it with `from_statistics(statistics, mode)` (training statistics as written in
    `meta/statistics/`).
    """

    def __init__(self, mode: str, transforms: dict[str, AffineTransform], degenerate: dict):
        self.mode = mode
        self.transforms = transforms
        self.degenerate_counts = degenerate

    @classmethod
    def from_statistics(cls, statistics: dict[str, dict[str, np.ndarray]], mode: str) -> Normaliser:
        builders = {"seed": _seed_parameters, "viv1t": _viv1t_parameters}
        if mode not in builders:
            raise ValueError(f"unknown normalisation '{mode}'; expected one of {list(builders)}.")
        transforms, degenerate = {}, {}
        for name, stats in statistics.items():
            stats = {k: np.asarray(v, dtype=np.float64) for k, v in stats.items()}
            shift, denominator = builders[mode](name, stats)
            zero = denominator == 0
            degenerate[name] = int(zero.sum())
            scale = 1.0 / np.where(zero, 1.0, denominator)
            shape = _sample_shape(name, mode, np.shape(shift))
            transforms[name] = AffineTransform(
                np.reshape(shift, shape).astype(np.float32),
                np.reshape(scale, shape).astype(np.float32),
            )
        return cls(mode, transforms, degenerate)

    def forward(self, name: str, x: ArrayLike, start: int = 0) -> ArrayLike:
        return self.transforms[name].forward(x, start)

    def inverse(self, name: str, x: ArrayLike, start: int = 0) -> ArrayLike:
        return self.transforms[name].inverse(x, start)


def response_precision(std: np.ndarray) -> np.ndarray:
    """ViV1T precision of (N, T) response stds with the 1 % floor (viv1t.md §6.2)."""
    floor = PRECISION_FLOOR * np.nanmean(std)
    return 1.0 / np.where(std > floor, std, floor if floor > 0 else 1.0)


def _seed_parameters(name: str, s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if name == "responses":
        return s["mean"], s["std"]
    return s["min"], s["max"] - s["min"]


def _viv1t_parameters(name: str, s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if name == "video":
        return s["mean"], s["std"] - s["mean"]
    if name == "responses":
        return np.zeros_like(s["std"]), 1.0 / response_precision(s["std"])
    return s["min"], s["max"] - s["min"]


def _sample_shape(name: str, mode: str, stat_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Reshape statistics so they broadcast against one sample of `name`."""
    if name == "video":
        return (1, 1, 1, 1) if mode == "seed" else (1, *stat_shape)
    return (stat_shape[0], 1) if mode == "seed" else stat_shape
