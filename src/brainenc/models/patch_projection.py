"""Memory-light, exact equivalent of "unfold 3-D patches -> LayerNorm -> Linear".

The ViV1T tokenizer flattens every tubelet of C x pt x ph x pw values (6125 for the authors'
configuration), normalises it with a LayerNorm over all of those values and projects it with a
Linear layer. Materialising the patches costs 1.2 GB per 140-frame clip in fp32. Because the
LayerNorm only subtracts a per-patch mean and divides by a per-patch standard deviation, the
same result follows from one convolution with the LayerNorm weight folded into the Linear weight
plus per-patch statistics from average pooling:

    out = (conv(x, W * gamma) - mu * sum(W * gamma)) / sqrt(var + eps) + (W @ beta + b)

The behaviour channels are constant over each frame, so their part of the convolution reduces
exactly to a 1-D convolution over time with the kernel summed over space.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def folded_patch_projection(
    video: torch.Tensor,
    frame_signals: torch.Tensor,
    norm: nn.LayerNorm,
    linear: nn.Linear,
    patch_size: tuple[int, int, int],
    spatial_stride: int,
) -> torch.Tensor:
    """Project every tubelet as ``linear(norm(patch))`` without materialising the patches.

    Parameters
    ----------
    video
        ``(B, Cv, T, H, W)`` pixel channels.
    frame_signals
        ``(B, Cs, T)`` per-frame scalars (behaviour, pupil centre) that the naive path broadcasts
        over every pixel and appends after the video channels.
    norm, linear
        The patch LayerNorm over ``(Cv + Cs) * pt * ph * pw`` values and the Linear projection,
        whose input order is channel-major ``(c, pt, ph, pw)``.
    patch_size
        ``(pt, ph, pw)`` tubelet size in frames and pixels; the temporal stride is 1.
    spatial_stride
        Stride in pixels along height and width.

    Returns
    -------
    torch.Tensor
        ``(B, Nt, Ph * Pw, D)`` tokens with ``Nt = T - pt + 1`` in the dtype of ``video``,
        computed in at least fp32 with autocast disabled (``E[x^2] - mu^2`` needs the precision).
    """
    pt, ph, pw = patch_size
    cv, cs = video.shape[1], frame_signals.shape[1]
    channels = cv + cs
    out_dtype = video.dtype
    dtype = torch.promote_types(out_dtype, torch.float32)
    with torch.autocast(device_type=video.device.type, enabled=False):
        video = video.to(dtype)
        frame_signals = frame_signals.to(dtype)
        # LayerNorm is invariant to one constant added to every entry of a patch: subtracting a
        # per-sample offset keeps E[x^2] - mu^2 well conditioned for inputs far from zero.
        offset = (video.mean(dim=(2, 3, 4)).sum(1) + frame_signals.mean(dim=2).sum(1)) / channels
        video = video - offset[:, None, None, None, None]
        frame_signals = frame_signals - offset[:, None, None]

        weight = linear.weight.to(dtype) * norm.weight.to(dtype)
        kernel = weight.view(-1, channels, pt, ph, pw)
        stride = (1, spatial_stride, spatial_stride)
        projected = F.conv3d(video, kernel[:, :cv], stride=stride)
        projected = (
            projected + F.conv1d(frame_signals, kernel[:, cv:].sum(dim=(3, 4)))[..., None, None]
        )

        window = (pt, ph, pw)
        mean = F.avg_pool3d(video, window, stride=stride).sum(1)
        mean_sq = F.avg_pool3d(video.square(), window, stride=stride).sum(1)
        mean = (mean + F.avg_pool1d(frame_signals, pt, stride=1).sum(1)[..., None, None]) / channels
        mean_sq = (
            mean_sq + F.avg_pool1d(frame_signals.square(), pt, stride=1).sum(1)[..., None, None]
        )
        variance = (mean_sq / channels - mean.square()).clamp_min(0.0)
        inv_std = torch.rsqrt(variance + norm.eps)

        shift = linear.weight.to(dtype) @ norm.bias.to(dtype) + linear.bias.to(dtype)
        tokens = (projected - mean[:, None] * weight.sum(1)[:, None, None, None]) * inv_std[:, None]
        tokens = tokens + shift[:, None, None, None]
    # (B, D, Nt, Ph, Pw) -> (B, Nt, Ph * Pw, D)
    return tokens.flatten(3).permute(0, 2, 3, 1).to(out_dtype)
