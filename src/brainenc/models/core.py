"""ViV1T core: tokenizer and factorized (spatial, then temporal) transformer encoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from brainenc.models.blocks import Transformer
from brainenc.models.recompute import GradCheckpointing, check_grad_checkpointing
from brainenc.models.tokenizer import Tokenizer, TokenizerMode

# Per-frame signals appended to the video as constant planes, in this order:
# behavior = [pupil dilation, running speed], then pupil_center = [x, y].
FRAME_SIGNAL_CHANNELS = 4
# ViViTCore settings that choose how the core is computed, not its function or its weights.
EXECUTION_SETTINGS = ("tokenizer", "grad_checkpointing", "chunk_tokens")


def prediction_offset(temporal_patch_size: int) -> int:
    """Input frames before a core's first output, in frames: output j belongs to input frame
    ``j + offset``, the last frame of its tubelet, so a T-frame clip gives ``T - offset`` outputs
    aligned to its last frames."""
    return int(temporal_patch_size) - 1


class FactorizedTransformer(nn.Module):
    """Tokenizer, spatial transformer and temporal transformer (the authors' ``ViViT``).

    Maps video ``(B, Cv, T, H, W)`` and per-frame signals ``(B, 4, T)`` to a feature map
    ``(B, D, Nt, Ph, Pw)`` with ``Nt = T - pt + 1``. Parameters: see :class:`ViViTCore`.
    """

    def __init__(
        self,
        in_channels: int,
        frame_size: tuple[int, int],
        max_frame: int,
        patch_size: tuple[int, int, int],
        spatial_stride: int,
        emb_dim: int,
        num_heads: int,
        head_dim: int,
        mlp_dim: int,
        spatial_depth: int,
        temporal_depth: int,
        p_dropout: float,
        mha_dropout: float,
        ff_dropout: float,
        drop_path: float,
        tokenizer: TokenizerMode,
        grad_checkpointing: GradCheckpointing,
        chunk_tokens: int | None,
    ) -> None:
        super().__init__()
        # Kept for the checkpoint layout: the authors' L1 regulariser scale, always 0.
        self.register_buffer("reg_scale", torch.tensor(0.0))
        self.grad_checkpointing = check_grad_checkpointing(grad_checkpointing)
        self.chunk_tokens = chunk_tokens
        self.tokenizer = Tokenizer(
            in_channels=in_channels,
            frame_size=frame_size,
            max_frame=max_frame,
            patch_size=patch_size,
            spatial_stride=spatial_stride,
            emb_dim=emb_dim,
            dropout=p_dropout,
            mode=tokenizer,
        )
        block_sizes = {
            "emb_dim": emb_dim,
            "num_heads": num_heads,
            "head_dim": head_dim,
            "mlp_dim": mlp_dim,
            "mha_dropout": mha_dropout,
            "ff_dropout": ff_dropout,
            "drop_path": drop_path,
        }
        self.spatial_transformer = Transformer(depth=spatial_depth, **block_sizes)
        self.temporal_transformer = Transformer(depth=temporal_depth, **block_sizes)

    def forward(self, video: torch.Tensor, frame_signals: torch.Tensor) -> torch.Tensor:
        tokens = self.tokenizer(video, frame_signals)  # (B, Nt, P, D)
        b, nt, p, d = tokens.shape
        options = (self.grad_checkpointing, self.chunk_tokens)
        tokens = self.spatial_transformer(tokens.reshape(b * nt, p, d), *options)
        tokens = tokens.view(b, nt, p, d).transpose(1, 2).reshape(b * p, nt, d)
        tokens = self.temporal_transformer(tokens, *options)
        # (B, P, Nt, D) -> (B, D, Nt, Ph, Pw); patch p = Pw * row + column.
        features = tokens.view(b, p, nt, d).permute(0, 3, 2, 1)
        return features.unflatten(-1, self.tokenizer.grid_shape)


class ViViTCore(nn.Module):
    """The shared ViV1T core (submission variant "S"), with the authors' attribute ``vivit``.

    Behaviour enters as extra input channels: ``behavior (B, 2, T)`` and ``pupil_center (B, 2, T)``
    are broadcast over every pixel after the video channels, giving ``[video, pupil dilation,
    running speed, pupil x, pupil y]``. Defaults are the authors' configuration.

    Parameters
    ----------
    video_channels
        Channels of the video input (1 for grey-scale).
    frame_size
        ``(H, W)`` of the video in pixels.
    max_frame
        Longest clip in frames; sizes the temporal position embedding.
    temporal_patch_size
        Frames per tubelet (temporal stride 1): the output loses ``temporal_patch_size - 1``
        frames at the start, see :attr:`frame_offset`.
    spatial_patch_size, spatial_patch_stride
        Tubelet height/width and stride in pixels (no padding).
    emb_dim, num_heads, head_dim, mlp_dim
        Token width, attention heads, head width and feed-forward width.
    spatial_depth, temporal_depth
        Number of parallel blocks in the spatial and the temporal transformer.
    p_dropout, mha_dropout, ff_dropout, drop_path
        Token dropout after the tokenizer, attention-output dropout, feed-forward dropout and
        stochastic-depth rate.
    tokenizer
        ``"conv"`` (exact, memory-light) or ``"unfold"`` (the authors' patch materialisation).
    grad_checkpointing
        What each transformer block keeps for the backward pass: False everything (fastest),
        ``"selective"`` its input and the attention outputs (recomputes the linear layers: about
        a third of the memory for a few percent more time), True its input only (recomputes the
        whole block). All exact; see :mod:`brainenc.models.recompute`.
    chunk_tokens
        Transformer blocks see the spatial or temporal sequences in chunks of about this many
        tokens: in evaluation the whole stack runs chunk by chunk; in training with
        ``grad_checkpointing`` each block is recomputed and backpropagated one chunk at a time.
        Exact (training draws its dropout masks per chunk), and bounds the transient memory
        (None: all at once, as the authors). See :class:`~brainenc.models.blocks.Transformer`.
    """

    def __init__(
        self,
        video_channels: int = 1,
        frame_size: Sequence[int] = (36, 64),
        max_frame: int = 300,
        temporal_patch_size: int = 25,
        spatial_patch_size: int = 7,
        spatial_patch_stride: int = 2,
        emb_dim: int = 112,
        num_heads: int = 11,
        head_dim: int = 48,
        mlp_dim: int = 136,
        spatial_depth: int = 3,
        temporal_depth: int = 5,
        p_dropout: float = 0.1338,
        mha_dropout: float = 0.3580,
        ff_dropout: float = 0.0592,
        drop_path: float = 0.0505,
        tokenizer: TokenizerMode = "conv",
        grad_checkpointing: GradCheckpointing = False,
        chunk_tokens: int | None = None,
    ) -> None:
        super().__init__()
        if chunk_tokens is not None and chunk_tokens < 1:
            raise ValueError(
                f"chunk_tokens must be a positive number of tokens or None, got {chunk_tokens}"
            )
        frame_size = tuple(int(size) for size in frame_size)
        if len(frame_size) != 2 or min(frame_size) < spatial_patch_size:
            raise ValueError(
                f"frame_size must be (height, width) of at least spatial_patch_size="
                f"{spatial_patch_size} pixels each, got {frame_size}"
            )
        if not 1 <= temporal_patch_size <= max_frame:
            raise ValueError(
                f"temporal_patch_size must lie in [1, max_frame={max_frame}], "
                f"got {temporal_patch_size}"
            )
        self.video_channels = video_channels
        self.frame_size = frame_size
        self.max_frame = max_frame
        self.temporal_patch_size = temporal_patch_size
        self.emb_dim = emb_dim
        self.vivit = FactorizedTransformer(
            in_channels=video_channels + FRAME_SIGNAL_CHANNELS,
            frame_size=frame_size,
            max_frame=max_frame,
            patch_size=(temporal_patch_size, spatial_patch_size, spatial_patch_size),
            spatial_stride=spatial_patch_stride,
            emb_dim=emb_dim,
            num_heads=num_heads,
            head_dim=head_dim,
            mlp_dim=mlp_dim,
            spatial_depth=spatial_depth,
            temporal_depth=temporal_depth,
            p_dropout=p_dropout,
            mha_dropout=mha_dropout,
            ff_dropout=ff_dropout,
            drop_path=drop_path,
            tokenizer=tokenizer,
            grad_checkpointing=grad_checkpointing,
            chunk_tokens=chunk_tokens,
        )

    @property
    def frame_offset(self) -> int:
        """Output index j predicts input frame ``j + frame_offset`` (:func:`prediction_offset`)."""
        return prediction_offset(self.temporal_patch_size)

    @property
    def grid_shape(self) -> tuple[int, int]:
        """``(Ph, Pw)``: spatial size of the output feature map in patches."""
        return self.vivit.tokenizer.grid_shape

    @property
    def grad_checkpointing(self) -> GradCheckpointing:
        return self.vivit.grad_checkpointing

    @grad_checkpointing.setter
    def grad_checkpointing(self, mode: GradCheckpointing) -> None:
        self.vivit.grad_checkpointing = check_grad_checkpointing(mode)

    def forward(
        self, video: torch.Tensor, behavior: torch.Tensor, pupil_center: torch.Tensor
    ) -> torch.Tensor:
        """Features ``(B, D, T - pt + 1, Ph, Pw)``.

        Parameters
        ----------
        video
            ``(B, Cv, T, H, W)`` normalised frames.
        behavior
            ``(B, 2, T)`` = [pupil dilation, running speed], normalised.
        pupil_center
            ``(B, 2, T)`` = [x, y], normalised.
        """
        self._check_inputs(video, behavior, pupil_center)
        frame_signals = torch.cat((behavior, pupil_center), dim=1).to(video.dtype)
        return self.vivit(video, frame_signals)

    def _check_inputs(
        self, video: torch.Tensor, behavior: torch.Tensor, pupil_center: torch.Tensor
    ) -> None:
        expected = f"(B, {self.video_channels}, T, {self.frame_size[0]}, {self.frame_size[1]})"
        if video.ndim != 5 or video.shape[1] != self.video_channels:
            raise ValueError(f"video must have shape {expected}, got {tuple(video.shape)}")
        if tuple(video.shape[-2:]) != self.frame_size:
            raise ValueError(
                f"video must have shape {expected} (the core's frame_size), got "
                f"{tuple(video.shape)}; resize the frames or build the core with "
                f"frame_size={list(video.shape[-2:])}"
            )
        b, _, t = video.shape[:3]
        if not self.temporal_patch_size <= t <= self.max_frame:
            raise ValueError(
                f"video has {t} frames; the core needs between temporal_patch_size="
                f"{self.temporal_patch_size} and max_frame={self.max_frame} frames"
            )
        for name, signal in (("behavior", behavior), ("pupil_center", pupil_center)):
            if tuple(signal.shape) != (b, 2, t):
                raise ValueError(
                    f"{name} must have shape (B, 2, T) = ({b}, 2, {t}) to match the video, "
                    f"got {tuple(signal.shape)}"
                )
