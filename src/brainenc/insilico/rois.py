"""Cell ROIs in the 512 x 512 field of view and the maximum-intensity projection image.

ROIs are filled ellipses with random orientation and aspect (long semi-axis 5.5-8.5 px, i.e.
4-7 um at 0.78 um/px, for up to ~300 cells; smaller when more cells must fit) whose centres are
drawn uniformly with a minimum spacing, so masks never overlap. The maximum
projection is a vignetted, textured background plus each cell's brightness (proportional to its
baseline fluorescence and peak response), blurred and stored as uint8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

FOV_PX = 512
BORDER_PX = 16


@dataclass(frozen=True)
class Rois:
    """ROI geometry: centres (N, 2) px as (x, y) and per-ROI pixel lists (y, x) index arrays."""

    centres: np.ndarray
    pixels: list[tuple[np.ndarray, np.ndarray]]

    def mask(self, i: int) -> np.ndarray:
        """Full-frame binary mask of ROI ``i``, (512, 512) float32."""
        out = np.zeros((FOV_PX, FOV_PX), dtype=np.float32)
        out[self.pixels[i]] = 1.0
        return out


def place_rois(n: int, rng: np.random.Generator) -> Rois:
    """Place ``n`` non-overlapping elliptical ROIs in the field of view."""
    usable = (FOV_PX - 2 * BORDER_PX) ** 2
    spacing = min(18.0, 0.7 * np.sqrt(0.547 * usable * 4 / (np.pi * n)))
    centres: list[np.ndarray] = []
    attempts = 0
    while len(centres) < n:
        candidates = rng.uniform(BORDER_PX, FOV_PX - BORDER_PX, (256, 2))
        for candidate in candidates:
            attempts += 1
            if not centres or np.min(np.hypot(*(np.asarray(centres) - candidate).T)) >= spacing:
                centres.append(candidate)
                if len(centres) == n:
                    break
        if attempts > 400 * n + 100_000:
            raise RuntimeError(f"could not place {n} non-overlapping ROIs in the field of view")
    centres_arr = np.asarray(centres)
    yy, xx = np.mgrid[0:FOV_PX, 0:FOV_PX]
    pixels = []
    for x, y in centres_arr:
        a = rng.uniform(0.65, 1.0) * (spacing / 2 - 0.5)
        b = a * rng.uniform(0.7, 1.0)
        angle = rng.uniform(0, np.pi)
        y0, y1 = int(max(y - a - 1, 0)), int(min(y + a + 2, FOV_PX))
        x0, x1 = int(max(x - a - 1, 0)), int(min(x + a + 2, FOV_PX))
        dy, dx = yy[y0:y1, x0:x1] + 0.5 - y, xx[y0:y1, x0:x1] + 0.5 - x
        u = dx * np.cos(angle) + dy * np.sin(angle)
        v = -dx * np.sin(angle) + dy * np.cos(angle)
        inside = (u / a) ** 2 + (v / b) ** 2 <= 1.0
        ys, xs = np.nonzero(inside)
        pixels.append((ys + y0, xs + x0))
    return Rois(centres=centres_arr, pixels=pixels)


def max_projection(rois: Rois, brightness: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(512, 512) uint8 maximum-intensity projection; ``brightness`` (N,) in fluorescence units."""
    yy, xx = np.mgrid[0:FOV_PX, 0:FOV_PX] / FOV_PX - 0.5
    image = 60.0 * np.exp(-(xx**2 + yy**2) / 0.3)
    image += 24.0 * ndimage.gaussian_filter(rng.standard_normal((FOV_PX, FOV_PX)), 3.0)
    cells = np.zeros((FOV_PX, FOV_PX))
    scale = 120.0 / max(float(np.median(brightness)), 1e-9)
    for (ys, xs), value in zip(rois.pixels, brightness, strict=True):
        cells[ys, xs] = value * scale
    image += ndimage.gaussian_filter(cells, 1.2) + rng.normal(0.0, 4.0, (FOV_PX, FOV_PX))
    return np.clip(np.rint(image + 30.0), 0, 255).astype(np.uint8)
