"""A session A with full-length movies gives the seed's 217 / 31 / 62 samples in its order.

Tiny frames and 8 neurons keep it fast (about 10 s), so it runs by default.
"""

from __future__ import annotations

import numpy as np

from brainenc.data.build import build_dataset, describe_counts
from brainenc.data.mouse_folder import read_manifest


def test_full_length_session_counts_and_order(make_insilico_session, tmp_path):
    path = make_insilico_session(
        "full_length", natural_movie_one_frames=900, natural_movie_three_frames=3600, n_neurons=8
    )
    root = build_dataset({"source": "nwb", "mice": {"A": [str(path)]}, "figures": False}, tmp_path)
    manifest = read_manifest(root / "A")
    assert manifest["counts"] == {
        "train": {"total": 217, "natural_movie_one": 42, "natural_movie_three": 175},
        "validation": {"total": 31, "natural_movie_one": 6, "natural_movie_three": 25},
        "test": {"total": 62, "natural_movie_one": 12, "natural_movie_three": 50},
    }
    movie = np.load(root / "A/meta/trials/movie.npy")
    split = np.load(root / "A/meta/trials/split.npy")
    clip = np.load(root / "A/meta/trials/clip.npy")
    repeat = np.load(root / "A/meta/trials/repeat.npy")
    train = split == "train"
    # the training split: the first 42 samples are natural_movie_one, repeat-major then clip
    assert (movie[train][:42] == "natural_movie_one").all()
    assert (movie[train][42:] == "natural_movie_three").all()
    np.testing.assert_array_equal(clip[train][:12], [0, 1, 2, 3, 4, 5] * 2)
    np.testing.assert_array_equal(repeat[train][:12], [0] * 6 + [1] * 6)
    # natural_movie_three: 3600 frames -> 25 clips, the last 100 frames unused
    assert clip[movie == "natural_movie_three"].max() == 24
    report = manifest["sources"][0]["alignment"]["natural_movie_three"]
    assert all(d >= 100 for d in report["discarded_after_clips"])
    printed = describe_counts(manifest["counts"], manifest["neurons"])
    assert printed.startswith("217 train (natural_movie_one 42, natural_movie_three 175), 31 valid")
