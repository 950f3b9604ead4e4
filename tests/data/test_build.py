"""Datasets built from in-silico sessions through allensdk (test scale: 20 neurons, short movies)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from brainenc.data import folder_figures as figures
from brainenc.data.build import build_dataset
from brainenc.data.dataset import MouseDataset
from brainenc.data.errors import DatasetExistsError, DatasetIntegrityError
from brainenc.data.frames import resize_movie
from brainenc.data.mouse_folder import read_manifest

MOUSE_A, MOUSE_B = "501729039", "501773889"  # experiment ids of the in-silico mice A and B
# test scale: natural_movie_one 280 frames = 2 clips, natural_movie_three 420 = 3 clips
CLIPS = {"natural_movie_one": 2, "natural_movie_three": 3}


def cache_settings(cache_dir: Path, **extra) -> dict:
    return {
        "source": "insilico",
        "cache_dir": str(cache_dir),
        "insilico": {"scale": "test", "mice": ["A", "B"]},
        **extra,
    }


@pytest.fixture(scope="module")
def built(insilico_cache, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("built")
    return build_dataset(cache_settings(insilico_cache), root)


def test_selection_through_the_cache_builds_one_folder_per_mouse(built):
    assert sorted(p.name for p in built.iterdir()) == [MOUSE_A, MOUSE_B]
    manifest = read_manifest(built / MOUSE_A)
    assert manifest["counts"] == {
        "train": {"total": 35, "natural_movie_one": 14, "natural_movie_three": 21},
        "validation": {"total": 5, "natural_movie_one": 2, "natural_movie_three": 3},
        "test": {"total": 10, "natural_movie_one": 4, "natural_movie_three": 6},
    }
    assert manifest["neurons"] == 20 and read_manifest(built / MOUSE_B)["neurons"] == 18
    source = manifest["sources"][0]
    assert source["experiment_id"] == int(MOUSE_A) and source["path"].endswith(f"{MOUSE_A}.nwb")
    assert len(source["sha256"]) == 64 and source["bytes"] == Path(source["path"]).stat().st_size
    assert manifest["session"]["targeted_structure"] == "VISp"
    assert manifest["session"]["imaging_depth_um"] == 275
    assert manifest["package_versions"]["allensdk"] == "2.16.2"
    assert manifest["config"]["clip_frames"] == 140 and manifest["eye_tracking"] == "recorded"
    # the alignment report: per repeat, frames left after the clips (here only the gaps)
    report = source["alignment"]["natural_movie_one"]
    assert len(report["discarded_after_clips"]) == 10
    assert all(a >= 280 for a in report["acquisition_frames"])


def test_layout_shapes_dtypes_and_order(built):
    folder = built / MOUSE_A
    manifest = read_manifest(folder)
    for i in (0, 49):
        assert np.load(folder / f"data/videos/{i}.npy").shape == (1, 140, 36, 64)
        assert np.load(folder / f"data/behavior/{i}.npy").shape == (2, 140)
        assert np.load(folder / f"data/pupil_center/{i}.npy").shape == (2, 140)
        responses = np.load(folder / f"data/responses/{i}.npy")
        assert responses.shape == (20, 140) and responses.dtype == np.float32
        assert np.isfinite(responses).all()
    trials = {
        k: np.load(folder / f"meta/trials/{k}.npy") for k in ("movie", "clip", "repeat", "split")
    }
    assert trials["movie"].dtype.kind == "U" and trials["split"].dtype.kind == "U"
    # movie one first, then repeat-major, then clip
    expected = [
        (movie, repeat, clip)
        for movie in CLIPS
        for repeat in range(10)
        for clip in range(CLIPS[movie])
    ]
    assert list(zip(trials["movie"], trials["repeat"], trials["clip"], strict=True)) == expected
    split = trials["split"]
    assert (split[trials["repeat"] < 7] == "train").all() and (
        split[trials["repeat"] == 7] == "validation"
    ).all()
    assert (split[trials["repeat"] >= 8] == "test").all()
    meta = {
        "meta/neurons/cell_specimen_ids.npy": (20,),
        "meta/neurons/coordinates.npy": (20, 3),
        "meta/neurons/roi_pixel_centers.npy": (20, 2),
        "meta/neurons/mean_responses.npy": (20,),
        "meta/session/max_projection.npy": (512, 512),
        "meta/statistics/videos/mean.npy": (),
        "meta/statistics/responses/std.npy": (20,),
        "meta/statistics/behavior/min.npy": (2,),
    }
    for relative, shape in meta.items():
        assert manifest["arrays"][relative]["shape"] == list(shape), relative
    assert np.load(folder / "meta/session/max_projection.npy").dtype == np.float32
    assert {
        "figures/roi_masks.png",
        "figures/max_projection.png",
        "figures/example_traces.png",
    } <= {str(p.relative_to(folder)) for p in folder.rglob("*.png")}


def test_coordinates_come_from_the_roi_masks(built):
    from brainenc.data.allen import open_session

    folder = built / MOUSE_A
    source = read_manifest(folder)["sources"][0]["path"]
    session = open_session(Path(source))
    masks = session.get_roi_mask_array()
    ids = np.load(folder / "meta/neurons/cell_specimen_ids.npy")
    np.testing.assert_array_equal(ids, session.get_cell_specimen_ids())
    centers = np.load(folder / "meta/neurons/roi_pixel_centers.npy")
    for mask, (x, y) in zip(masks, centers, strict=True):
        rows, cols = np.where(mask)
        assert (x, y) == ((cols.min() + cols.max()) / 2, (rows.min() + rows.max()) / 2)
    coordinates = np.load(folder / "meta/neurons/coordinates.npy")
    np.testing.assert_allclose(coordinates[:, :2], -1.24 * centers, rtol=1e-6)
    np.testing.assert_array_equal(coordinates[:, 2], 275)


def test_statistics_and_imputation_use_the_training_split(built):
    from brainenc.data.allen import open_session

    folder = built / MOUSE_A
    dataset = MouseDataset(folder, split=None)
    normaliser = dataset.normaliser()
    samples = [dataset[i] for i in range(len(dataset))]
    split = np.load(folder / "meta/trials/split.npy")
    train = split == "train"
    raw = {
        name: np.stack([normaliser.inverse(name, s[name].numpy()) for s in samples])
        for name in ("responses", "behavior")
    }
    stats = dataset.mouse.statistics()["responses"]
    np.testing.assert_allclose(stats["mean"], raw["responses"][train].mean(axis=(0, 2)), rtol=1e-4)
    assert not np.allclose(stats["mean"], raw["responses"].mean(axis=(0, 2)), rtol=1e-4)
    normalised = np.stack([s["responses"].numpy() for s in samples])
    np.testing.assert_allclose(
        dataset.mean_responses, normalised[train].mean(axis=(0, 2)), rtol=1e-4, atol=1e-6
    )
    # running speed has NaN gaps in the file: there the samples hold the training mean
    imputation = read_manifest(folder)["imputation"]["behavior"]
    session = open_session(Path(read_manifest(folder)["sources"][0]["path"]))
    speed, _ = session.get_running_speed()
    missing = []
    for movie in CLIPS:
        table = session.get_stimulus_table(movie)
        starts = table["start"].to_numpy().reshape(10, -1)
        for i in np.flatnonzero(np.load(folder / "meta/trials/movie.npy") == movie):
            frames = starts[samples[i]["repeat"], samples[i]["clip"] * 140 :][:140]
            gaps = np.isnan(speed[frames])
            missing.append(raw["behavior"][i, 1, gaps])
            np.testing.assert_allclose(
                raw["behavior"][i, 1, ~gaps], speed[frames][~gaps], rtol=1e-4, atol=1e-3
            )
    missing = np.concatenate(missing)
    assert missing.size > 0 and imputation["replaced"] >= missing.size
    np.testing.assert_allclose(missing, imputation["fill_values"][1], rtol=1e-4)
    assert np.isfinite(raw["behavior"]).all()


def test_rebuild_is_a_noop_and_other_settings_need_overwrite(built, insilico_cache):
    manifest = built / MOUSE_A / "manifest.json"
    before = manifest.stat().st_mtime_ns
    build_dataset(cache_settings(insilico_cache, overwrite=True), built)
    assert manifest.stat().st_mtime_ns == before
    with pytest.raises(DatasetExistsError, match="overwrite=true"):
        build_dataset(cache_settings(insilico_cache, clip_frames=100), built)
    assert manifest.stat().st_mtime_ns == before


def test_alignment_exact_with_stimulus_code(insilico_code_session, tmp_path):
    """Responses encode the movie, repeat and frame on screen at each acquisition frame."""
    from brainenc.data.allen import open_session

    path = insilico_code_session
    root = build_dataset(
        {"source": "nwb", "mice": {"A": [str(path)]}, "normalisation": "viv1t"}, tmp_path
    )
    dataset = MouseDataset(root / "A", split=None)
    normaliser = dataset.normaliser()
    session = open_session(path)
    codes = {"natural_movie_one": 1, "natural_movie_three": 3}
    for movie in CLIPS:
        table = session.get_stimulus_table(movie)
        movie_frames = int(table["frame"].max()) + 1
        spans = (table["end"] - table["start"]).to_numpy().reshape(10, movie_frames)
        for i in np.flatnonzero(np.load(root / "A/meta/trials/movie.npy") == movie):
            sample = dataset[i]
            code = np.rint(normaliser.inverse("responses", sample["responses"].numpy())).astype(
                np.int64
            )
            assert (code == code[0]).all()  # every neuron carries the same code
            frames = sample["clip"] * 140 + np.arange(140)
            # a row spanning 0 frames shares its acquisition frame with the next movie frame
            shown = frames + (spans[sample["repeat"], frames] == 0)
            np.testing.assert_array_equal(code[0] // 1_000_000, codes[movie])
            np.testing.assert_array_equal(code[0] // 10_000 % 100, sample["repeat"])
            np.testing.assert_array_equal(code[0] % 10_000, shown)


def test_video_round_trip_matches_the_template(insilico_code_session, tmp_path):
    path = insilico_code_session
    for mode in ("seed", "viv1t"):
        root = build_dataset(
            {"source": "nwb", "mice": {"A": [str(path)]}, "normalisation": mode, "figures": False},
            tmp_path / mode,
        )
        dataset = MouseDataset(root / "A", split="test")
        with h5py.File(path, "r") as f:
            template = f["stimulus/templates/natural_movie_three_image_stack/data"][()]
        expected = resize_movie(template, (36, 64))
        sample = next(
            s
            for s in (dataset[i] for i in range(len(dataset)))
            if s["movie"] == "natural_movie_three" and s["clip"] == 2
        )
        video = dataset.normaliser().inverse("video", sample["video"].numpy())
        np.testing.assert_allclose(video[0], expected[280:420], atol=2e-3 * 255)


def test_failed_build_leaves_nothing_and_keeps_the_old_dataset(
    insilico_session, tmp_path, monkeypatch
):
    path = insilico_session
    settings = {"source": "nwb", "mice": {"A": [str(path)]}}

    def broken(*args, **kwargs):
        raise RuntimeError("injected failure while writing figures")

    monkeypatch.setattr(figures, "example_traces_figure", broken)
    with pytest.raises(RuntimeError, match="injected"):
        build_dataset(settings, tmp_path)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    build_dataset({**settings, "figures": False}, tmp_path)
    before = json.loads((tmp_path / "A/manifest.json").read_text())
    monkeypatch.setattr(figures, "example_traces_figure", broken)
    with pytest.raises(RuntimeError, match="injected"):
        build_dataset({**settings, "overwrite": True}, tmp_path)
    assert os.listdir(tmp_path) == ["A"]
    assert json.loads((tmp_path / "A/manifest.json").read_text()) == before
    MouseDataset(tmp_path / "A", verify="hash")


def test_damaged_dataset_is_reported_with_the_rebuild_command(built, tmp_path):
    import shutil

    copy = tmp_path / MOUSE_B
    shutil.copytree(built / MOUSE_B, copy)
    target = copy / "data/responses/3.npy"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(
        DatasetIntegrityError, match=r"responses/3\.npy has 100 bytes.*brainenc\.data\.build"
    ):
        MouseDataset(copy)
