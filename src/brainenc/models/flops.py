"""Floating-point operations of ViV1T, counted from the model's shapes.

One multiply-add is 2 FLOPs; only matrix products and convolutions are counted (LayerNorm, GELU,
softmax, dropout and pooling are a few FLOPs per element, under 2 % of the total). For one clip
of T frames with tubelets ``(pt, ph, pw)``, Nt = T - pt + 1 output frames, P = Ph * Pw patches,
n = Nt * P tokens of width D, H heads of width d (inner = H * d), feed-forward width M and fused
projection width F = 3 * inner + M, the forward pass costs:

- tokenizer: ``2 n D Cv pt ph pw + 2 Nt D Cs pt`` with the conv path (the behaviour channels are
  constant over a frame: a 1-D convolution over time), ``2 n D (Cv + Cs) pt ph pw`` with the
  authors' unfold path (every behaviour value multiplied at every pixel);
- block linears, per block: ``2 n D (F + inner + M)`` (fused q | k | v | ff, attention output,
  feed-forward output);
- spatial attention, per spatial block: ``4 Nt H P^2 d`` (scores ``Q K^T`` and ``A V`` over the P
  patches of each frame);
- temporal attention, per temporal block: ``4 P H Nt^2 d``;
- readout, per mouse of N neurons: ``10 Nt D N`` (bilinear sampling of D channels at N locations:
  4 taps, then the per-neuron weighting) ``+ 2 Nt (4 D + D^2)`` (behaviour state encoder).

LoRA of rank r on every ``fused_linear`` is merged into the weight before the product
(:mod:`brainenc.models.lora_projection`): ``2 r D F`` per block and step, counted once per clip.

A training step adds the backward pass: every product whose input needs a gradient costs its
forward FLOPs again, and again for its weight when the weight is trainable; attention costs twice
its forward (dQ, dK, dV and dA). Recomputation (``grad_checkpointing``) adds forward FLOPs again,
which :func:`training_step_flops` reports separately: utilisation is model FLOPs over time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from brainenc.models.core import FRAME_SIGNAL_CHANNELS, ViViTCore
from brainenc.models.recompute import GradCheckpointing

Finetune = Literal["head", "lora", "fused", "full"]
FINETUNE_MODES: tuple[str, ...] = ("head", "lora", "fused", "full")


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one clip, by part (see the module docstring for the formulas)."""

    tokenizer: float
    block_linears: float
    spatial_attention: float
    temporal_attention: float
    readout: float
    lora: float = 0.0

    @property
    def total(self) -> float:
        return (
            self.tokenizer
            + self.block_linears
            + self.spatial_attention
            + self.temporal_attention
            + self.readout
            + self.lora
        )


def forward_flops(
    core: ViViTCore, frames: int, neurons: int, lora_rank: int = 0, tokenizer: str | None = None
) -> FlopCount:
    """Forward FLOPs of one clip of ``frames`` frames through ``core`` and one mouse's readout.

    Parameters
    ----------
    core
        The ViViTCore whose sizes are read (tokenizer, block widths, depths).
    frames
        Clip length T in frames.
    neurons
        Neurons N of the mouse whose readout runs.
    lora_rank
        Rank r of LoRA adapters on every ``fused_linear``: adds the merge, ``2 r D F`` per block.
    tokenizer
        ``"conv"`` or ``"unfold"``; default: the core's own mode.
    """
    vivit = core.vivit
    pt, ph, pw = vivit.tokenizer.patch_size
    patches = vivit.tokenizer.grid_shape[0] * vivit.tokenizer.grid_shape[1]
    out_frames = frames - pt + 1
    tokens = out_frames * patches
    emb = core.emb_dim
    block = vivit.spatial_transformer.blocks[0]
    inner, mlp = block.split_sizes[0], block.split_sizes[3]
    heads = block.num_heads
    head_dim = inner // heads
    fused = sum(block.split_sizes)
    spatial_depth = len(vivit.spatial_transformer.blocks)
    depth = spatial_depth + len(vivit.temporal_transformer.blocks)

    mode = tokenizer or vivit.tokenizer.mode
    pixels = core.video_channels * pt * ph * pw
    if mode == "conv":
        tokenizer_flops = (
            2 * tokens * emb * pixels + 2 * out_frames * emb * FRAME_SIGNAL_CHANNELS * pt
        )
    else:
        tokenizer_flops = 2 * tokens * emb * (pixels + FRAME_SIGNAL_CHANNELS * pt * ph * pw)
    return FlopCount(
        tokenizer=float(tokenizer_flops),
        block_linears=float(depth * 2 * tokens * emb * (fused + inner + mlp)),
        spatial_attention=float(spatial_depth * 4 * out_frames * heads * patches**2 * head_dim),
        temporal_attention=float(
            (depth - spatial_depth) * 4 * patches * heads * out_frames**2 * head_dim
        ),
        readout=float(10 * out_frames * emb * neurons + 2 * out_frames * (4 * emb + emb**2)),
        lora=float(depth * 2 * lora_rank * emb * fused),
    )


def training_step_flops(
    core: ViViTCore,
    frames: int,
    neurons: int,
    finetune: Finetune,
    lora_rank: int = 8,
    grad_checkpointing: GradCheckpointing = False,
    tokenizer: str | None = None,
) -> tuple[float, float]:
    """``(model FLOPs, recomputed FLOPs)`` of one training step on one clip.

    ``finetune``: ``"head"`` trains the readout and shifter only (no backward through the core);
    ``"lora"`` trains rank-``lora_rank`` adapters on every ``fused_linear`` (gradients flow
    through every block, not into the tokenizer); ``"fused"`` trains the ``fused_linear`` weights
    themselves (the issue's reference measurement); ``"full"`` trains everything. The optimizer
    update is elementwise and not counted.
    """
    if finetune not in FINETUNE_MODES:
        raise ValueError(f"finetune must be one of {FINETUNE_MODES}, got {finetune!r}")
    rank = lora_rank if finetune == "lora" else 0
    forward = forward_flops(core, frames, neurons, lora_rank=rank, tokenizer=tokenizer)
    backward = 2 * forward.readout
    if finetune != "head":
        attention = forward.spatial_attention + forward.temporal_attention
        backward += forward.block_linears * (2 if finetune == "full" else 1) + 2 * attention
        backward += 2 * forward.lora
        if finetune in ("lora", "fused"):  # the (merged) fused_linear weight gradient
            block = core.vivit.spatial_transformer.blocks[0]
            sizes = block.split_sizes
            share = sum(sizes) / (sum(sizes) + sizes[0] + sizes[3])
            backward += forward.block_linears * share
        backward += forward.tokenizer if finetune == "full" else 0.0
    recomputed = 0.0
    if finetune != "head" and grad_checkpointing:
        recomputed = forward.block_linears + forward.lora
        if grad_checkpointing is True:
            recomputed += forward.spatial_attention + forward.temporal_attention
    return forward.total + backward, recomputed
