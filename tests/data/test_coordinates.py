from __future__ import annotations

import numpy as np
import pytest

from brainenc.data.coordinates import neuron_coordinates, roi_pixel_centers


def test_midpoint_of_mask_pixels_negated_and_scaled():
    masks = np.zeros((2, 512, 512), np.uint8)
    masks[0, 10:15, 100:111] = 1  # rows 10..14, cols 100..110
    masks[1, 500, 3] = 1
    masks[1, 502, 9] = 1  # an L-shaped two-pixel ROI: midpoint of the positions, not the mean
    centers = roi_pixel_centers(masks)
    np.testing.assert_allclose(centers, [[105.0, 12.0], [6.0, 501.0]])
    coordinates = neuron_coordinates(centers, 275)
    assert coordinates.shape == (2, 3) and coordinates.dtype == np.float32
    np.testing.assert_allclose(coordinates[:, :2], -1.24 * centers, rtol=1e-6)
    np.testing.assert_allclose(coordinates[:, 2], 275.0)
    # (0, 0) is the top-right corner: every neuron lies at x <= 0, y <= 0
    assert (coordinates[:, :2] <= 0).all()


def test_empty_mask_is_an_error():
    with pytest.raises(ValueError, match="ROI mask 1 is empty"):
        roi_pixel_centers(np.stack([np.ones((4, 4)), np.zeros((4, 4))]))
