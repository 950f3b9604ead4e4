"""ViV1T encoder: shared core + per-mouse shifter and Gaussian readout + output activation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from brainenc.models.core import ViViTCore
from brainenc.models.readout import GaussianReadout
from brainenc.models.shifter import MLPShifter

OutputActivation = Literal["exp", "elu1", "softplus", "identity"]
OUTPUT_ACTIVATIONS = {
    "exp": torch.exp,
    "elu1": lambda x: F.elu(x) + 1.0,
    "softplus": F.softplus,
    "identity": lambda x: x,
}


@dataclass(frozen=True, eq=False)
class MouseSpec:
    """What a mouse's readout needs from the data.

    Attributes
    ----------
    neuron_coordinates
        ``(N, 2)`` float cortical (x, y) position of each neuron, any unit (only relative
        positions matter: the readout centres and rescales them).
    mean_responses
        ``(N,)`` mean training response per neuron in the model's response space (initial readout
        bias), or None for zeros.
    """

    neuron_coordinates: torch.Tensor
    mean_responses: torch.Tensor | None = None

    def __post_init__(self) -> None:
        coordinates = torch.as_tensor(self.neuron_coordinates, dtype=torch.float32)
        if coordinates.ndim != 2 or coordinates.shape[1] != 2 or coordinates.shape[0] == 0:
            raise ValueError(
                "MouseSpec.neuron_coordinates must have shape (N, 2) with N >= 1 "
                f"(x, y per neuron), got {tuple(coordinates.shape)}; pass coordinates[:, :2] "
                "for (x, y, z) arrays"
            )
        if not torch.isfinite(coordinates).all():
            raise ValueError("MouseSpec.neuron_coordinates contains NaN or infinite values")
        object.__setattr__(self, "neuron_coordinates", coordinates)
        if self.mean_responses is not None:
            means = torch.as_tensor(self.mean_responses, dtype=torch.float32)
            if tuple(means.shape) != (coordinates.shape[0],):
                raise ValueError(
                    f"MouseSpec.mean_responses must have shape (N,) = ({coordinates.shape[0]},) "
                    f"to match neuron_coordinates, got {tuple(means.shape)}"
                )
            if not torch.isfinite(means).all():
                raise ValueError("MouseSpec.mean_responses contains NaN or infinite values")
            object.__setattr__(self, "mean_responses", means)

    @property
    def num_neurons(self) -> int:
        return self.neuron_coordinates.shape[0]


@dataclass(frozen=True)
class ParameterCounts:
    """Parameter counts of a :class:`ViV1T`: shared core and per-mouse heads."""

    core: int
    readouts: dict[str, int] = field(default_factory=dict)
    shifters: dict[str, int] = field(default_factory=dict)

    def head(self, mouse_id: str) -> int:
        """Readout plus shifter parameters of one mouse."""
        return self.readouts[mouse_id] + self.shifters[mouse_id]

    @property
    def total(self) -> int:
        return self.core + sum(self.readouts.values()) + sum(self.shifters.values())


def _check_mouse_id(mouse_id: object) -> None:
    if not isinstance(mouse_id, str) or not mouse_id or "." in mouse_id:
        raise ValueError(
            f"mouse_id must be a non-empty string without '.', got {mouse_id!r} "
            "(it becomes part of the state-dict keys shifters.<mouse_id>.*)"
        )
    if hasattr(nn.ModuleDict(), mouse_id):
        raise ValueError(
            f"mouse_id {mouse_id!r} clashes with an attribute of torch.nn.ModuleDict; rename the mouse"
        )


class ViV1T(nn.Module):
    """ViV1T encoder: ``core`` shared by all mice, ``shifters[mouse_id]`` and ``readouts[mouse_id]``.

    State-dict keys match the authors' checkpoints (``core.vivit.*``, ``shifters.<m>.*``,
    ``readouts.<m>.*``). Prediction j belongs to input frame ``j + core.frame_offset``.

    Parameters
    ----------
    core
        The shared :class:`ViViTCore`.
    mice
        ``{mouse_id: MouseSpec}``; one shifter and one readout per mouse.
    shifter_hidden_features, shifter_layers
        Width and number of Linear layers of each :class:`MLPShifter`.
    readout_hidden_features
        Hidden width of the readout's ``mu_transform``.
    readout_init_sigma
        Range of the uniform initialisation of the readout's ``sigma``.
    readout_dropout
        Dropout inside the readout's behaviour ``state_encoder``.
    output_activation
        ``"exp"`` (the authors' configuration, Poisson-loss friendly), ``"elu1"`` (ELU + 1),
        ``"softplus"`` (beta 1; tamer gradients for MSE losses and fp16 training, where exp can
        overflow) or ``"identity"`` (for responses that can be negative, e.g. z-scored with
        ``data.build.normalisation=seed``, trained with MSE as the seed did). None of them has parameters, so checkpoints load under any choice, but the
        authors' weights only reproduce their predictions with ``"exp"``.
    """

    def __init__(
        self,
        core: ViViTCore,
        mice: Mapping[str, MouseSpec],
        shifter_hidden_features: int = 5,
        shifter_layers: int = 3,
        readout_hidden_features: int = 30,
        readout_init_sigma: float = 1.0,
        readout_dropout: float = 0.0,
        output_activation: OutputActivation = "exp",
    ) -> None:
        super().__init__()
        if not mice:
            raise ValueError("mice is empty: pass {mouse_id: MouseSpec} for at least one mouse")
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"output_activation must be one of {sorted(OUTPUT_ACTIVATIONS)}, "
                f"got {output_activation!r}"
            )
        for mouse_id, spec in mice.items():
            _check_mouse_id(mouse_id)
            if not isinstance(spec, MouseSpec):
                raise TypeError(
                    f"mice[{mouse_id!r}] must be a MouseSpec, got {type(spec).__name__}"
                )
        self.core = core
        self.shifters = nn.ModuleDict(
            {m: MLPShifter(shifter_hidden_features, shifter_layers) for m in mice}
        )
        self.readouts = nn.ModuleDict(
            {
                m: GaussianReadout(
                    spec.neuron_coordinates,
                    spec.mean_responses,
                    in_channels=core.emb_dim,
                    hidden_features=readout_hidden_features,
                    init_sigma=readout_init_sigma,
                    dropout=readout_dropout,
                )
                for m, spec in mice.items()
            }
        )
        self.output_activation = output_activation

    @property
    def mouse_ids(self) -> list[str]:
        return list(self.readouts.keys())

    def num_neurons(self, mouse_id: str) -> int:
        return self._readout(mouse_id).num_neurons

    def forward(
        self,
        video: torch.Tensor,
        mouse_id: str,
        behavior: torch.Tensor,
        pupil_center: torch.Tensor,
    ) -> torch.Tensor:
        """Predicted responses ``(B, N, T - frame_offset)`` of one mouse, activated.

        Parameters
        ----------
        video
            ``(B, 1, T, 36, 64)`` normalised frames (the core's ``frame_size``).
        mouse_id
            Which mouse's shifter and readout to use.
        behavior
            ``(B, 2, T)`` = [pupil dilation, running speed], normalised.
        pupil_center
            ``(B, 2, T)`` = [x, y], normalised.
        """
        readout = self._readout(mouse_id)
        features = self.core(video, behavior, pupil_center)  # (B, C, t, Ph, Pw)
        t = features.shape[2]
        behavior, pupil_center = behavior[..., -t:], pupil_center[..., -t:]
        shift = self.shifters[mouse_id](pupil_center)
        outputs = readout(features, shift, behavior, pupil_center)
        return OUTPUT_ACTIVATIONS[self.output_activation](outputs)

    def parameter_counts(self, trainable_only: bool = False) -> ParameterCounts:
        """Numbers of (trainable) parameters in the core and in each mouse's readout and shifter.

        For the authors' configuration: core 2,916,074; readout 13,592 + 117 N; shifter 57.
        """

        def count(module: nn.Module) -> int:
            return sum(
                p.numel() for p in module.parameters() if p.requires_grad or not trainable_only
            )

        return ParameterCounts(
            core=count(self.core),
            readouts={m: count(r) for m, r in self.readouts.items()},
            shifters={m: count(s) for m, s in self.shifters.items()},
        )

    def _readout(self, mouse_id: str) -> GaussianReadout:
        if mouse_id not in self.readouts:
            raise KeyError(
                f"unknown mouse_id {mouse_id!r}; this model has heads for {self.mouse_ids}"
            )
        return self.readouts[mouse_id]
