from __future__ import annotations

import numpy as np
import pytest

from brainenc.data.frames import area_weights, resize_movie


@pytest.mark.parametrize(("n_in", "n_out"), [(304, 36), (608, 64), (38, 36), (8, 4), (5, 5)])
def test_area_weights_rows_average_their_bin(n_in, n_out):
    weights = area_weights(n_in, n_out)
    assert weights.shape == (n_out, n_in)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    # every input sample contributes the same total (each covers an equal share of the output)
    np.testing.assert_allclose(weights.sum(axis=0), n_out / n_in)


def test_integer_factor_is_block_mean():
    frame = np.arange(8 * 12, dtype=np.uint8).reshape(1, 8, 12)
    out = resize_movie(frame, (2, 3))
    expected = frame[0].reshape(2, 4, 3, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(out[0], expected, rtol=1e-6)


def test_full_size_template_shape_and_antialiasing():
    rows, cols = np.indices((304, 608))
    checkerboard = np.where((rows + cols) % 2 == 0, 255, 0).astype(np.uint8)
    template = np.stack([checkerboard, np.full((304, 608), 127, np.uint8)])
    before = template.copy()
    out = resize_movie(template, (36, 64), chunk_frames=1)
    assert out.shape == (2, 36, 64) and out.dtype == np.float32
    # a 1-pixel checkerboard averages to mid grey (point sampling would alias to 0 or 255)
    np.testing.assert_allclose(out[0], 127.5, atol=1.5)
    np.testing.assert_allclose(out[1], 127.0, atol=1e-4)
    np.testing.assert_array_equal(template, before)
