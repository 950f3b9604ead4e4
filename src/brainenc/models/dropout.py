"""Element-wise dropout whose CPU masks cost a quarter of torch's.

torch's CPU dropout draws one Bernoulli variable per element (``bernoulli_``, about 12 ns each
on the 2-core benchmark machine): 17 % of a ViV1T LoRA training step, where the attention-output
dropout alone masks 528 values per token. Here each element gets 16 random bits, four per 64-bit
draw of the same generator, and is kept when they fall below ``round(keep * 2**16)``: the keep
probability is quantised to 1/65536 (off by at most 1.5e-5), the masks are independent and
uniform as before. On other devices (CUDA's dropout is one fused kernel) and with
``fast_masks=False`` it is :func:`torch.nn.functional.dropout`, bit for bit.

The mask follows the default generator of the input's device, so :func:`torch.manual_seed`
reproduces it and activation recomputation (``brainenc.models.recompute``) redraws the same one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 1 << 16


def drop_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """Bool mask of ``shape``, True where an element is dropped (probability ``p``, 1/65536 steps)."""
    numel = shape.numel()
    words = torch.empty((numel + 3) // 4, dtype=torch.int64, device=device)
    words.random_(-(1 << 63), None)
    keep_levels = min(round((1.0 - p) * LEVELS), LEVELS - 1)
    return (words.view(torch.int16)[:numel] >= keep_levels - LEVELS // 2).view(shape)


class _MaskedScale(torch.autograd.Function):
    """``inputs * scale`` with the ``dropped`` elements zeroed; saves only the bool mask."""

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, dropped: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(dropped)
        ctx.scale = scale
        return inputs.mul(scale).masked_fill_(dropped, 0.0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (dropped,) = ctx.saved_tensors
        return grad.mul(ctx.scale).masked_fill_(dropped, 0.0), None, None


def dropout(
    inputs: torch.Tensor, p: float, training: bool, fast_masks: bool = True
) -> torch.Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Identity when not ``training`` or ``p == 0``. ``fast_masks`` draws CPU masks 16 bits at a
    time (see the module docstring); False, or a non-CPU input, uses torch's dropout.
    """
    if not training or p == 0.0:
        return inputs
    if not fast_masks or inputs.device.type != "cpu" or not 0.0 < p < 1.0:
        return F.dropout(inputs, p, training=True)
    return _MaskedScale.apply(inputs, drop_mask(inputs.shape, p, inputs.device), 1.0 / (1.0 - p))


class Dropout(nn.Dropout):
    """:class:`torch.nn.Dropout` with the fast CPU masks of :func:`dropout` (no parameters)."""

    def __init__(self, p: float = 0.5, fast_masks: bool = True) -> None:
        super().__init__(p=p)
        self.fast_masks = fast_masks

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return dropout(inputs, self.p, self.training, self.fast_masks)
