"""Neuron positions from ROI masks, in the layout of Sensorium's `cell_motor_coordinates`.

The seed takes the pixel positions of each mask (`np.where`) and their *midpoint*: here
(min + max) / 2 per axis, the centre of the mask's bounding box. The coordinates are then
negated (so that, plotted with x to the right and y up, (0, 0) is the top-right corner of the
field of view) and multiplied by 1.24, mapping the 512-pixel field of view to a 620-unit scale
like the Sensorium recordings. The third column is the imaging depth in micrometres.
"""

from __future__ import annotations

import numpy as np

SENSORIUM_SCALE = 1.24


def roi_pixel_centers(masks: np.ndarray) -> np.ndarray:
    """Midpoint of every ROI mask's pixel positions.

    Parameters
    ----------
    masks
        (N, H, W) masks, non-zero inside the ROI.

    Returns
    -------
    (N, 2) float64 (x, y) in field-of-view pixels: x = column, y = row.
    """
    centers = np.empty((masks.shape[0], 2))
    for i, mask in enumerate(masks):
        rows, cols = np.where(mask)
        if rows.size == 0:
            raise ValueError(f"ROI mask {i} is empty; its neuron has no position.")
        centers[i] = ((cols.min() + cols.max()) / 2, (rows.min() + rows.max()) / 2)
    return centers


def neuron_coordinates(pixel_centers: np.ndarray, imaging_depth_um: float) -> np.ndarray:
    """(N, 3) float32 [-1.24 x, -1.24 y, depth] from (N, 2) pixel centres (x, y)."""
    depth = np.full((pixel_centers.shape[0], 1), float(imaging_depth_um))
    return np.hstack([-SENSORIUM_SCALE * pixel_centers, depth]).astype(np.float32)
