"""Tubelet tokenizer of ViV1T: 3-D patches -> LayerNorm -> Linear -> LayerNorm -> Dropout + positions."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from brainenc.models.dropout import Dropout
from brainenc.models.patch_projection import folded_patch_projection

TokenizerMode = Literal["conv", "unfold"]
TOKENIZER_MODES: tuple[str, ...] = ("conv", "unfold")


def unfolded_size(length: int, patch: int, stride: int) -> int:
    """Number of patches along one axis without padding: ``(length - patch) // stride + 1``."""
    return (length - patch) // stride + 1


class PatchUnfold(nn.Module):
    """Cut ``(B, C, T, H, W)`` into flattened tubelets ``(B, Nt, Ph * Pw, C * pt * ph * pw)``.

    The flattened order is channel-major ``(c, pt, ph, pw)``, the order the authors' LayerNorm and
    Linear weights expect. Temporal stride 1, no padding (the last pixel row and column of a
    36 x 64 frame are never covered with 7 / 2 spatial patches).
    """

    def __init__(self, patch_size: tuple[int, int, int], spatial_stride: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.spatial_stride = spatial_stride

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        pt, ph, pw = self.patch_size
        patches = (
            inputs.unfold(2, pt, 1)
            .unfold(3, ph, self.spatial_stride)
            .unfold(4, pw, self.spatial_stride)
        )  # (B, C, Nt, Ph, Pw, pt, ph, pw)
        b, c, nt, nh, nw = patches.shape[:5]
        patches = patches.permute(0, 2, 3, 4, 1, 5, 6, 7)  # (B, Nt, Ph, Pw, C, pt, ph, pw)
        return patches.reshape(b, nt, nh * nw, c * pt * ph * pw)


class Tokenizer(nn.Module):
    """Embed a clip and its per-frame behaviour as ``(B, Nt, P, D)`` tokens.

    Submodule layout (and so the state-dict keys) follows the authors' ``Tokenizer``:
    ``tokenizer.{0 unfold, 1 LayerNorm(patch), 2 Linear, 3 LayerNorm(D), 4 Dropout}``,
    ``spatial_pos_embedding (1, 1, P, D)`` and ``temporal_pos_embedding (1, Nt_max, 1, D)``.

    Parameters
    ----------
    in_channels
        Channels after broadcasting behaviour over the frame (video + per-frame signals).
    frame_size
        ``(H, W)`` in pixels.
    max_frame
        Longest clip in frames; sizes the temporal position embedding (``max_frame - pt + 1``).
    patch_size
        ``(pt, ph, pw)`` tubelet size; temporal stride is 1.
    spatial_stride
        Patch stride in pixels along height and width.
    emb_dim
        Token width D.
    dropout
        Element-wise dropout after the second LayerNorm.
    mode
        ``"conv"`` (default): exact conv-equivalent of unfold + LayerNorm + Linear
        (:func:`folded_patch_projection`); ``"unfold"``: the authors' path, which materialises
        every patch (about 1.2 GB per 140-frame clip in fp32). Both read the same parameters.
    """

    def __init__(
        self,
        in_channels: int,
        frame_size: tuple[int, int],
        max_frame: int,
        patch_size: tuple[int, int, int],
        spatial_stride: int,
        emb_dim: int,
        dropout: float,
        mode: TokenizerMode = "conv",
    ) -> None:
        super().__init__()
        if mode not in TOKENIZER_MODES:
            raise ValueError(f"tokenizer mode must be one of {TOKENIZER_MODES}, got {mode!r}")
        pt, ph, pw = patch_size
        self.mode = mode
        self.patch_size = (pt, ph, pw)
        self.spatial_stride = spatial_stride
        self.grid_shape = (
            unfolded_size(frame_size[0], ph, spatial_stride),
            unfolded_size(frame_size[1], pw, spatial_stride),
        )
        num_patches = self.grid_shape[0] * self.grid_shape[1]
        patch_dim = in_channels * pt * ph * pw
        self.tokenizer = nn.Sequential(
            PatchUnfold(self.patch_size, spatial_stride),
            nn.LayerNorm(patch_dim),
            nn.Linear(patch_dim, emb_dim),
            nn.LayerNorm(emb_dim),
            Dropout(dropout),
        )
        self.spatial_pos_embedding = nn.Parameter(torch.randn(1, 1, num_patches, emb_dim))
        self.temporal_pos_embedding = nn.Parameter(
            torch.randn(1, unfolded_size(max_frame, pt, 1), 1, emb_dim)
        )

    def forward(self, video: torch.Tensor, frame_signals: torch.Tensor) -> torch.Tensor:
        """Tokens ``(B, Nt, P, D)`` from video ``(B, Cv, T, H, W)`` and signals ``(B, Cs, T)``."""
        unfold, patch_norm, linear, token_norm, dropout = self.tokenizer
        if self.mode == "conv":
            tokens = folded_patch_projection(
                video, frame_signals, patch_norm, linear, self.patch_size, self.spatial_stride
            )
        else:
            h, w = video.shape[-2:]
            planes = frame_signals[..., None, None].expand(-1, -1, -1, h, w)
            tokens = linear(patch_norm(unfold(torch.cat((video, planes), dim=1))))
        tokens = dropout(token_norm(tokens))
        nt, p = tokens.shape[1:3]
        return tokens + self.spatial_pos_embedding[:, :, :p] + self.temporal_pos_embedding[:, :nt]
