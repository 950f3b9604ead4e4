"""Activation recomputation for the transformer blocks: what a training step keeps for backward.

Three modes, all exact: the backward pass replays the same operations on the same inputs, and the
dropout and drop-path draws from the saved random state, so outputs and gradients are the same:

``False``
    Keep everything autograd saves. Per block and token that is dominated by the 1720-wide
    ``fused_linear`` output (q | k | v | ff, 347 MB per block for one 140-frame clip in fp32).
``"selective"``
    Keep each block's input and the fused attention kernel's outputs (attention output and
    log-sum-exp, 528 + 11 floats per token); recompute the LayerNorm, the three projections, the
    GELU and the dropouts in the backward pass. Costs one extra pass of the block's linear layers
    (about a sixth of the step's FLOPs), but not the attention, the most expensive part.
``True``
    Keep only each block's input and recompute the whole block, attention included.

LoRA adapters (peft) inside the block are recomputed like the layers they wrap, so every mode works
with any set of trainable parameters. With ``chunk_tokens`` (:class:`~brainenc.models.blocks.
Transformer`), each block is checkpointed per chunk of sequences, so the backward pass recomputes
and holds one chunk's activations at a time (at T = 140 and 4096-token chunks, the step's peak
falls from 3.0 to 2.0 GB in the selective mode, 2.1 to 1.6 GB in the full one).
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import torch
from torch import nn
from torch.utils.checkpoint import (
    CheckpointPolicy,
    checkpoint,
    create_selective_checkpoint_contexts,
)

GradCheckpointing = bool | Literal["selective"]
GRAD_CHECKPOINTING_MODES: tuple[object, ...] = (False, "selective", True)

aten = torch.ops.aten
# The fused attention kernels whose outputs the selective mode keeps (CPU flash, CUDA flash,
# memory-efficient and cuDNN); the math fallback is decomposed into matmuls and recomputed.
ATTENTION_KERNELS = frozenset(
    op
    for op in (
        getattr(aten, "_scaled_dot_product_flash_attention_for_cpu", None),
        getattr(aten, "_scaled_dot_product_flash_attention", None),
        getattr(aten, "_scaled_dot_product_efficient_attention", None),
        getattr(aten, "_scaled_dot_product_cudnn_attention", None),
    )
    if op is not None
)


def check_grad_checkpointing(value: object) -> GradCheckpointing:
    """Validate a ``grad_checkpointing`` setting: False, ``"selective"`` or True."""
    if isinstance(value, bool) or value == "selective":
        return value
    raise ValueError(
        f"grad_checkpointing must be false, 'selective' or true, got {value!r}: false keeps all "
        "activations, 'selective' recomputes the block's linear layers but keeps the attention, "
        "true recomputes each whole block"
    )


def _keep_attention(ctx: object, op: object, *args: object, **kwargs: object) -> CheckpointPolicy:
    if getattr(op, "overloadpacket", op) in ATTENTION_KERNELS:
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


def run_block(block: nn.Module, inputs: torch.Tensor, mode: GradCheckpointing) -> torch.Tensor:
    """Apply ``block`` to ``inputs`` keeping the activations ``mode`` asks for (see module doc).

    Recomputation only applies while gradients are recorded; otherwise the block runs as is.
    """
    if not mode or not torch.is_grad_enabled():
        return block(inputs)
    if mode == "selective":
        contexts = partial(create_selective_checkpoint_contexts, _keep_attention)
        return checkpoint(block, inputs, use_reentrant=False, context_fn=contexts)
    return checkpoint(block, inputs, use_reentrant=False)
