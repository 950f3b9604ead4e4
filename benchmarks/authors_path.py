"""The authors' way of running a ViV1T block, for the suite's reference cases.

brainenc's :class:`~brainenc.models.blocks.ParallelTransformerBlock` computes the authors'
function but runs it differently: the fused projection as four products (no gradient
concatenation) and CPU dropout masks drawn 16 bits at a time. The reference cases must cost what
the authors' code costs, so :func:`use_authors_path` makes every block run as theirs does: one
``fused_linear`` product split into q | k | v | ff, and torch's dropout (``bernoulli_`` masks).
Same parameters, same state dict; only the execution differs.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from torch import nn

from brainenc.models.blocks import ParallelTransformerBlock
from brainenc.models.dropout import Dropout


def authors_block_forward(block: ParallelTransformerBlock, inputs: torch.Tensor) -> torch.Tensor:
    """``(S, L, D) -> (S, L, D)`` as the authors' parallel block computes it."""
    fused = block.fused_linear(block.norm(inputs))
    q, k, v, ff = fused.split(block.split_sizes, dim=-1)
    q, k, v = (x.unflatten(-1, (block.num_heads, -1)).transpose(1, 2) for x in (q, k, v))
    attn = F.scaled_dot_product_attention(q, k, v)
    attn = F.dropout(attn, p=block.attn_dropout.p, training=block.training)
    attn = block.attn_out(attn.transpose(1, 2).flatten(2))
    gelu, ff_dropout, ff_linear = block.ff_out
    ff = ff_linear(F.dropout(gelu(ff), p=ff_dropout.p, training=block.training))
    return inputs + block.drop_path1(attn) + block.drop_path2(ff)


def use_authors_path(model: nn.Module) -> None:
    """Run every block of ``model`` as the authors' code does, and every dropout as torch's."""
    for module in model.modules():
        if isinstance(module, ParallelTransformerBlock):
            module.forward = types.MethodType(authors_block_forward, module)
        elif isinstance(module, Dropout):
            module.fast_masks = False
