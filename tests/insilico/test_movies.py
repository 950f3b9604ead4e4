"""Movie templates: natural-image statistics, camera motion, cuts, and the low-resolution copy."""

from __future__ import annotations

import numpy as np
import pytest

from brainenc.insilico.movies import contrast_movie, make_movie


@pytest.fixture(scope="module")
def movie() -> np.ndarray:
    return make_movie("natural_movie_one", 300, 38, 76, seed=0)


def test_template_is_uint8_with_mean_grey_near_127(movie: np.ndarray) -> None:
    assert movie.dtype == np.uint8 and movie.shape == (300, 38, 76)
    assert 115 < movie.mean() < 135
    assert 25 < movie.std() < 70


def test_consecutive_frames_are_similar_except_at_a_few_cuts(movie: np.ndarray) -> None:
    frames = movie.reshape(len(movie), -1).astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    r = (frames[1:] * frames[:-1]).sum(1) / np.sqrt(
        (frames[1:] ** 2).sum(1) * (frames[:-1] ** 2).sum(1)
    )
    cuts = int((r < 0.5).sum())
    assert np.median(r) > 0.95  # smooth pans and zooms
    assert 1 <= cuts <= 10  # shots of a few seconds
    assert np.abs(np.diff(frames, axis=0)).mean(axis=1).max() > 10  # a cut changes the picture


def test_images_have_natural_spatial_statistics(movie: np.ndarray) -> None:
    frame = movie[len(movie) // 2].astype(np.float64)
    power = np.abs(np.fft.rfft(frame - frame.mean(), axis=1)) ** 2
    spectrum = power.mean(axis=0)[1:]
    # natural images: power falls with spatial frequency (roughly 1/f^2)
    slope = np.polyfit(np.log(np.arange(1, len(spectrum) + 1)), np.log(spectrum), 1)[0]
    assert slope < -1.0


def test_same_seed_same_movie_different_name_different_movie(movie: np.ndarray) -> None:
    np.testing.assert_array_equal(make_movie("natural_movie_one", 300, 38, 76, seed=0), movie)
    other = make_movie("natural_movie_three", 300, 38, 76, seed=0)
    assert not np.array_equal(other, movie)


def test_contrast_copy_is_the_area_average_in_weber_contrast() -> None:
    rng = np.random.default_rng(0)
    template = rng.integers(0, 256, (3, 16, 32)).astype(np.uint8)
    small = contrast_movie(template, 4, 8)
    block = template.reshape(3, 4, 4, 8, 4).mean(axis=(2, 4))
    np.testing.assert_allclose(small, (block - 127) / 127, atol=1e-5)
    uneven = contrast_movie(np.full((2, 15, 31), 127, dtype=np.uint8), 4, 8)
    np.testing.assert_allclose(uneven, 0.0, atol=1e-6)
    ramp = np.tile(np.arange(31, dtype=np.uint8) * 8, (1, 15, 1))
    assert np.all(np.diff(contrast_movie(ramp, 4, 8)[0, 0]) > 0)
