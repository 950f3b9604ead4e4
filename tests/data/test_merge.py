"""Sessions of one container merged into one mouse: shared neurons, all repeats."""

from __future__ import annotations

import shutil

import h5py
import numpy as np

from brainenc.data.build import build_dataset
from brainenc.data.dataset import MouseDataset
from brainenc.data.mouse_folder import read_manifest

PIPE = "processing/brain_observatory_pipeline"


def second_session(source, target):
    """A session-B-like file: same container, natural_movie_one only, 5 neurons not shared."""
    shutil.copy(source, target)
    with h5py.File(target, "r+") as f:
        f["general/session_id"][()] = np.bytes_("501729040")
        ids = f[f"{PIPE}/ImageSegmentation/cell_specimen_ids"]
        ids[:5] = np.arange(5) + 1
        del f["stimulus/presentation/natural_movie_three_stimulus"]
        del f["stimulus/templates/natural_movie_three_image_stack"]
    return target


def test_merge_two_sessions_of_one_container(insilico_session, tmp_path):
    first = insilico_session
    second = second_session(first, tmp_path / "second.nwb")
    root = build_dataset(
        {"source": "nwb", "mice": {"A": [str(first), str(second)]}, "figures": False},
        tmp_path / "out",
    )
    folder = root / "A"
    manifest = read_manifest(folder)
    assert [s["experiment_id"] for s in manifest["sources"]] == [501729039, 501729040]
    assert manifest["neurons"] == 15
    with h5py.File(first, "r") as f:
        ids = f[f"{PIPE}/ImageSegmentation/cell_specimen_ids"][()]
    np.testing.assert_array_equal(np.load(folder / "meta/neurons/cell_specimen_ids.npy"), ids[5:])
    # natural_movie_one: 10 + 10 repeats x 2 clips; natural_movie_three: 10 repeats x 3 clips
    assert manifest["counts"]["train"] == {
        "total": 28 + 21,
        "natural_movie_one": 28,
        "natural_movie_three": 21,
    }
    trials = {
        k: np.load(folder / f"meta/trials/{k}.npy")
        for k in ("movie", "repeat", "experiment_id", "split")
    }
    one = trials["movie"] == "natural_movie_one"
    assert sorted(set(trials["repeat"][one])) == list(range(20))
    assert set(trials["experiment_id"][one & (trials["repeat"] >= 10)]) == {501729040}
    assert (trials["split"][one & (trials["repeat"] == 17)] == "validation").all()
    # the second file is a copy, so its repeat r holds the same responses as repeat r of the first
    dataset = MouseDataset(folder, split=None)
    index = {
        (m, r, c): i
        for i, (m, r, c) in enumerate(
            zip(
                trials["movie"],
                trials["repeat"],
                np.load(folder / "meta/trials/clip.npy"),
                strict=True,
            )
        )
    }
    a = dataset[index[("natural_movie_one", 3, 1)]]["responses"]
    b = dataset[index[("natural_movie_one", 13, 1)]]["responses"]
    np.testing.assert_array_equal(a.numpy(), b.numpy())
