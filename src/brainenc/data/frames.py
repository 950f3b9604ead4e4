"""Downsampling of movie templates by exact area averaging.

Each output pixel is the mean of the input area it covers, with fractional weights at the
borders (304 -> 36 rows is a factor 8.44, 608 -> 64 columns 9.5). This is the ideal box
anti-aliasing filter and costs two small matrix products per frame.
"""

from __future__ import annotations

import numpy as np


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """Averaging matrix from `n_in` samples to `n_out` equal bins.

    Returns
    -------
    (n_out, n_in) float64 array; row j holds the overlap of every input sample with output
    bin j, divided by the bin width, so every row sums to 1.
    """
    if n_out < 1 or n_in < 1:
        raise ValueError(f"cannot resample {n_in} samples to {n_out}.")
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lower = np.arange(n_in)
    overlap = np.minimum(edges[1:, None], lower[None, :] + 1) - np.maximum(
        edges[:-1, None], lower[None, :]
    )
    return np.clip(overlap, 0.0, None) / (n_in / n_out)


def resize_movie(
    template: np.ndarray, size: tuple[int, int], chunk_frames: int = 256
) -> np.ndarray:
    """Area-average every frame of a movie template.

    Parameters
    ----------
    template
        (L, H, W) grey levels, any real dtype (uint8 in Allen files). Never modified.
    size
        (height, width) of the output frames, e.g. (36, 64).
    chunk_frames
        Frames converted to float32 at a time, to bound memory on full-size templates.

    Returns
    -------
    (L, height, width) float32 grey levels, same units as the template.
    """
    if template.ndim != 3:
        raise ValueError(
            f"a movie template is (frames, height, width), got shape {template.shape}."
        )
    rows = area_weights(template.shape[1], size[0]).astype(np.float32)
    cols = area_weights(template.shape[2], size[1]).T.astype(np.float32)
    out = np.empty((template.shape[0], *size), dtype=np.float32)
    for begin in range(0, template.shape[0], chunk_frames):
        frames = template[begin : begin + chunk_frames].astype(np.float32)
        out[begin : begin + chunk_frames] = rows @ frames @ cols
    return out
