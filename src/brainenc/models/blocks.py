"""Parallel transformer blocks of the ViV1T factorized encoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from brainenc.models.dropout import Dropout
from brainenc.models.lora_projection import project, project_split
from brainenc.models.recompute import GradCheckpointing, run_block


class DropPath(nn.Module):
    """Stochastic depth: zero whole rows (dim 0) with probability ``1 - keep_prob``, rescale the rest.

    ``keep_prob`` is a persistent buffer, as in the authors' checkpoints. Identity in eval mode.
    """

    def __init__(self, drop_prob: float) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_path must lie in [0, 1), got {drop_prob}")
        self.register_buffer("keep_prob", torch.tensor(1.0 - drop_prob))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return inputs
        shape = (inputs.shape[0],) + (1,) * (inputs.ndim - 1)
        keep = torch.rand(shape, device=inputs.device) < self.keep_prob
        return inputs * (keep.to(inputs.dtype) / self.keep_prob.to(inputs.dtype))


class ParallelTransformerBlock(nn.Module):
    """PaLM-style block: ``x + DropPath(attn(norm(x))) + DropPath(ff(norm(x)))``.

    One bias-free ``fused_linear`` weight holds q | k | v | ff-hidden (``3 * heads * head_dim +
    mlp_dim`` rows, head h owning the contiguous slice ``[h * head_dim, (h + 1) * head_dim)`` of q,
    k and v). It is applied as four products with its row blocks, the same numbers as one product
    then a split, but the backward pass then never concatenates the four output gradients into
    one ``(tokens, 1720)`` copy (5 % of a CPU training step). Attention runs through
    :func:`torch.nn.functional.scaled_dot_product_attention` (scale ``head_dim ** -0.5``, no mask);
    dropout acts on the attention output. ``attn_out``, ``fused_linear`` and ``ff_out.2`` are plain
    :class:`torch.nn.Linear` layers, the LoRA targets.

    Parameters
    ----------
    emb_dim
        Token width D.
    num_heads, head_dim
        Attention heads and their width; ``num_heads * head_dim`` may differ from ``emb_dim``.
    mlp_dim
        Hidden width of the feed-forward branch.
    mha_dropout
        Dropout on the attention output ``(B, heads, L, head_dim)``.
    ff_dropout
        Dropout after the GELU of the feed-forward branch.
    drop_path
        Stochastic-depth rate of each branch.
    """

    def __init__(
        self,
        emb_dim: int,
        num_heads: int,
        head_dim: int,
        mlp_dim: int,
        mha_dropout: float,
        ff_dropout: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        inner_dim = num_heads * head_dim
        self.num_heads = num_heads
        self.split_sizes = (inner_dim, inner_dim, inner_dim, mlp_dim)
        self.norm = nn.LayerNorm(emb_dim)
        # Kept for the checkpoint layout; SDPA applies the same default scale head_dim ** -0.5.
        self.register_buffer("scale", torch.tensor(head_dim**-0.5))
        self.fused_linear = nn.Linear(emb_dim, sum(self.split_sizes), bias=False)
        self.attn_out = nn.Linear(inner_dim, emb_dim, bias=False)
        self.attn_dropout = Dropout(mha_dropout)
        self.ff_out = nn.Sequential(
            nn.GELU(), Dropout(ff_dropout), nn.Linear(mlp_dim, emb_dim, bias=False)
        )
        self.drop_path1 = DropPath(drop_path)
        self.drop_path2 = DropPath(drop_path)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(S, L, D) -> (S, L, D)``: S independent sequences of L tokens."""
        # a LoRA-wrapped Linear runs as products with its merged weight (lora_projection)
        q, k, v, ff = project_split(self.fused_linear, self.norm(inputs), self.split_sizes)
        q, k, v = (x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2) for x in (q, k, v))
        attn = self.attn_dropout(F.scaled_dot_product_attention(q, k, v))
        attn = attn.transpose(1, 2).flatten(2)
        gelu, ff_dropout, ff_linear = self.ff_out
        attn = project(self.attn_out, attn)
        ff = project(ff_linear, ff_dropout(gelu(ff)))
        return inputs + self.drop_path1(attn) + self.drop_path2(ff)


class Transformer(nn.Module):
    """A stack of :class:`ParallelTransformerBlock` under the attribute ``blocks``.

    Parameters
    ----------
    depth
        Number of blocks.
    emb_dim, num_heads, head_dim, mlp_dim, mha_dropout, ff_dropout, drop_path
        Sizes and rates of every block, see :class:`ParallelTransformerBlock`.
    """

    def __init__(
        self,
        depth: int,
        emb_dim: int,
        num_heads: int,
        head_dim: int,
        mlp_dim: int,
        mha_dropout: float,
        ff_dropout: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            ParallelTransformerBlock(
                emb_dim, num_heads, head_dim, mlp_dim, mha_dropout, ff_dropout, drop_path
            )
            for _ in range(depth)
        )

    def forward(
        self,
        inputs: torch.Tensor,
        grad_checkpointing: GradCheckpointing = False,
        chunk_tokens: int | None = None,
    ) -> torch.Tensor:
        """``(S, L, D) -> (S, L, D)``: S independent sequences of L tokens.

        Parameters
        ----------
        grad_checkpointing
            What each block keeps for the backward pass while gradients are recorded: False
            everything, ``"selective"`` its input and the attention outputs, True its input
            only (see :mod:`brainenc.models.recompute`). All three are exact.
        chunk_tokens
            Process the sequences in chunks of about this many tokens (at least one sequence).
            Without gradient recording the whole stack runs chunk by chunk; with recomputation
            each block is checkpointed per chunk, so its backward pass recomputes and holds one
            chunk at a time. Exact, as blocks treat sequences independently (in training the
            dropout masks are drawn chunk by chunk: other draws, same distribution). No effect
            when training with ``grad_checkpointing`` False: every activation is kept anyway.
        """
        chunk = max(1, chunk_tokens // inputs.shape[1]) if chunk_tokens else len(inputs)
        if chunk >= len(inputs):
            return self._run(inputs, grad_checkpointing)
        if not torch.is_grad_enabled():
            return torch.cat([self._run(part, False) for part in inputs.split(chunk)])
        if not grad_checkpointing:
            return self._run(inputs, False)
        outputs = inputs
        for block in self.blocks:
            parts = outputs.split(chunk)
            outputs = torch.cat([run_block(block, part, grad_checkpointing) for part in parts])
        return outputs

    def _run(self, inputs: torch.Tensor, grad_checkpointing: GradCheckpointing) -> torch.Tensor:
        outputs = inputs
        for block in self.blocks:
            outputs = run_block(block, outputs, grad_checkpointing)
        return outputs
