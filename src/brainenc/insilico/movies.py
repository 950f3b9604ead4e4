"""Grayscale natural-movie templates made of pans, zooms and cuts over scikit-image photographs.

A movie is a sequence of shots (median 3 s, i.e. 90 frames at 30 frames/s). Each shot shows one
photograph from `skimage.data` through a virtual camera whose crop window moves smoothly between
a start and an end window (a pan, a zoom, both, or a near-static framing with hand-held jitter),
normalised so that what the camera sees has mean grey 127 and a random contrast (sd 35-60 grey
levels). Cuts between shots
change photograph and framing abruptly, like film edits. Frames are rendered with bilinear
interpolation after an anti-aliasing blur matched to the shot's minification.

The templates are uint8 (frames, height, width), like allensdk's ``get_stimulus_template``; the
real sizes are (900, 304, 608) for natural_movie_one and (3600, 304, 608) for natural_movie_three.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy import ndimage

from brainenc.insilico.random_streams import stream

GREY = 127.0
PHOTOGRAPHS = (  # scenes only: the texture images (brick, grass, gravel) are white at coarse scales
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "rocket",
    "moon",
    "clock",
    "hubble_deep_field",
)


@cache
def _photograph(name: str) -> np.ndarray:
    """(H, W) float32 in [0, 1] of one `skimage.data` photograph."""
    from skimage import color, data

    image = getattr(data, name)()
    if image.ndim == 3:
        image = color.rgb2gray(image[..., :3])
    image = image.astype(np.float32)
    return image / 255.0 if image.max() > 1.0 else image


def _shot_lengths(n_frames: int, rng: np.random.Generator) -> list[int]:
    lengths, total = [], 0
    while total < n_frames:
        length = int(np.clip(rng.lognormal(np.log(90.0), 0.5), 20, 300))
        lengths.append(min(length, n_frames - total))
        total += lengths[-1]
    return lengths


def _camera_path(
    image_shape: tuple[int, int], aspect: float, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop-window centre (y, x) and width per frame, each (n,), in source pixels."""
    height, width = image_shape
    widest = min(width, height / aspect)
    kind = rng.choice(["pan", "zoom", "pan_zoom", "still"], p=[0.35, 0.25, 0.25, 0.15])
    w0 = widest * rng.uniform(0.45, 1.0)
    w1 = widest * rng.uniform(0.45, 1.0) if kind in ("zoom", "pan_zoom") else w0

    def centre(w: float) -> tuple[float, float]:
        return (
            rng.uniform(w * aspect / 2, height - w * aspect / 2),
            rng.uniform(w / 2, width - w / 2),
        )

    c0 = centre(max(w0, w1))
    c1 = centre(max(w0, w1)) if kind in ("pan", "pan_zoom") else c0
    ease = 0.5 - 0.5 * np.cos(np.pi * np.linspace(0.0, 1.0, n))
    jitter = ndimage.gaussian_filter1d(rng.standard_normal((2, n)), 3.0, axis=1) * 0.004 * widest
    crop_w = w0 + (w1 - w0) * ease
    cy = c0[0] + (c1[0] - c0[0]) * ease + jitter[0]
    cx = c0[1] + (c1[1] - c0[1]) * ease + jitter[1]
    return cy, cx, crop_w


def _sample_axis(centre: float, size: float, n_out: int, n_in: int) -> tuple[np.ndarray, ...]:
    coords = centre + ((np.arange(n_out) + 0.5) / n_out - 0.5) * size - 0.5
    coords = np.clip(coords, 0.0, n_in - 1.0)
    low = np.minimum(np.floor(coords).astype(np.intp), n_in - 2)
    return low, (coords - low).astype(np.float32)


def _render(
    image: np.ndarray, path: tuple[np.ndarray, ...], k: int, height: int, width: int
) -> np.ndarray:
    """Frame ``k`` (height, width) float of a camera path over ``image`` (bilinear)."""
    cy, cx, crop_w = (p[k] for p in path)
    y0, wy = _sample_axis(cy, crop_w * height / width, height, image.shape[0])
    x0, wx = _sample_axis(cx, crop_w, width, image.shape[1])
    window = image[:, x0[0] : x0[-1] + 2]
    top, bottom = window[y0], window[y0 + 1]
    rows = top + wy[:, None] * (bottom - top)
    left, right = rows[:, x0 - x0[0]], rows[:, x0 + 1 - x0[0]]
    return left + wx[None, :] * (right - left)


def make_movie(name: str, n_frames: int, height: int, width: int, seed: int) -> np.ndarray:
    """Render one movie template.

    Parameters
    ----------
    name
        Movie name (``"natural_movie_one"`` ...); with ``seed`` it selects the random stream, so
        every mouse of a cache sees the same movie.
    n_frames, height, width
        Template size in movie frames and pixels.
    seed
        User seed.

    Returns
    -------
    np.ndarray
        uint8 (n_frames, height, width), mean grey near 127.
    """
    rng = stream(seed, "movie", name, n_frames, height, width)
    aspect = height / width
    out = np.empty((n_frames, height, width), dtype=np.uint8)
    position = 0
    for length in _shot_lengths(n_frames, rng):
        photo = _photograph(str(rng.choice(PHOTOGRAPHS)))
        if rng.random() < 0.5:
            photo = photo[:, ::-1]
        path = _camera_path(photo.shape, aspect, length, rng)
        minification = path[2].min() / width
        if minification > 1.0:
            photo = ndimage.gaussian_filter(photo, 0.5 * np.sqrt(minification**2 - 1.0))

        # grey level and contrast of what the camera sees in this shot, not of the whole photo
        samples = np.stack(
            [_render(photo, path, k, height, width) for k in (0, length // 2, length - 1)]
        )
        gain = rng.uniform(35.0, 60.0) / max(float(samples.std()), 1e-6)
        photo = GREY + gain * (photo - float(samples.mean()))
        for k in range(length):
            frame = _render(photo, path, k, height, width)
            np.clip(np.rint(frame), 0, 255, out=frame)
            out[position + k] = frame
        position += length
    return out


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float32 weights averaging input pixels over each output pixel's extent."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    left = np.maximum(edges[:-1, None], np.arange(n_in)[None, :])
    right = np.minimum(edges[1:, None], np.arange(1, n_in + 1)[None, :])
    weights = np.clip(right - left, 0.0, None)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def contrast_movie(template: np.ndarray, height: int, width: int, chunk: int = 256) -> np.ndarray:
    """Area-average a uint8 template to (height, width) and convert it to Weber contrast.

    Returns
    -------
    np.ndarray
        float32 (frames, height, width), ``(value - 127) / 127``: 0 is the grey screen.
    """
    n, h_in, w_in = template.shape
    out = np.empty((n, height, width), dtype=np.float32)
    if h_in % height == 0 and w_in % width == 0:
        fy, fx = h_in // height, w_in // width
        for s in range(0, n, chunk):
            block = template[s : s + chunk].reshape(-1, height, fy, width, fx)
            out[s : s + chunk] = block.mean(axis=(2, 4), dtype=np.float32)
    else:
        ay, ax = _area_matrix(h_in, height), _area_matrix(w_in, width)
        for s in range(0, n, chunk):
            out[s : s + chunk] = ay @ (template[s : s + chunk].astype(np.float32) @ ax.T)
    return (out - GREY) / GREY
