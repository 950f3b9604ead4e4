"""Clear errors for sessions that cannot give a dataset, and nothing left behind."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from brainenc.data.build import build_dataset
from brainenc.data.dataset import MouseDataset
from brainenc.data.errors import (
    IncompleteRepeatsError,
    MissingDataError,
    MissingTracesError,
    NoEyeTrackingError,
    UnreadableSessionError,
)
from brainenc.data.mouse_folder import read_manifest


def nwb_settings(path, **extra) -> dict:
    return {"source": "nwb", "mice": {"A": [str(path)]}, "figures": False, **extra}


@pytest.mark.parametrize(
    ("name", "overrides", "error", "message"),
    [
        ("no_eye", {"eye_tracking": False}, NoEyeTrackingError, "allow_missing_eye_tracking=true"),
        (
            "short_repeat",
            {"truncate_last_repeat": "natural_movie_one"},
            IncompleteRepeatsError,
            "natural_movie_one stimulus table does not hold whole repeats",
        ),
        ("no_demixed", {"demixed_signal": False}, MissingTracesError, "has no demixed signal"),
        ("nan_neuron", {"nan_neurons": (3,)}, MissingDataError, r"1 neuron\(s\) have no finite"),
    ],
    ids=["missing-eye-tracking", "incomplete-repeats", "missing-demixed", "all-nan-neuron"],
)
def test_unusable_sessions_are_clear_errors(
    make_insilico_session, tmp_path, name, overrides, error, message
):
    path = make_insilico_session(name, **overrides)
    with pytest.raises(error, match=message) as caught:
        build_dataset(nwb_settings(path), tmp_path)
    assert str(path) in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_nan_neuron_error_names_its_cell_specimen_id(make_insilico_session, tmp_path):
    from brainenc.data.allen import open_session

    path = make_insilico_session("nan_neuron", nan_neurons=(3,))
    cell = open_session(path).get_cell_specimen_ids()[3]
    with pytest.raises(MissingDataError, match=f"cell specimen ids \\[{cell}\\]"):
        build_dataset(nwb_settings(path), tmp_path)


def test_missing_eye_tracking_can_be_allowed_explicitly(make_insilico_session, tmp_path):
    path = make_insilico_session("no_eye", eye_tracking=False)
    root = build_dataset(nwb_settings(path, allow_missing_eye_tracking=True), tmp_path)
    manifest = read_manifest(root / "A")
    assert "constant zero pupil inputs" in manifest["eye_tracking"]
    assert manifest["config"]["allow_missing_eye_tracking"] is True
    assert manifest["sources"][0]["eye_tracking"] is False
    sample = MouseDataset(root / "A")[0]
    np.testing.assert_array_equal(sample["pupil_center"].numpy(), 0.0)
    np.testing.assert_array_equal(sample["behavior"][0].numpy(), 0.0)
    assert sample["behavior"][1].std() > 0  # running speed is still recorded


def test_truncated_file_is_a_clear_error(insilico_session, tmp_path):
    path = insilico_session
    truncated = tmp_path / "truncated.nwb"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UnreadableSessionError, match="truncated.*Delete it and download it again"):
        build_dataset(nwb_settings(truncated), tmp_path / "out")
    with pytest.raises(UnreadableSessionError, match="does not exist"):
        build_dataset(nwb_settings(tmp_path / "absent.nwb"), tmp_path / "out")
    assert not (tmp_path / "out").exists()  # the failed build left no empty folder


def test_truncated_file_in_the_cache_is_a_clear_error(insilico_cache, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(insilico_cache, cache)
    nwb = cache / "ophys_experiment_data" / "501773889.nwb"
    nwb.write_bytes(nwb.read_bytes()[:4096])
    settings = {"source": "insilico", "cache_dir": str(cache), "mice": {"B": [501773889]}}
    with pytest.raises(UnreadableSessionError, match="501773889.*Delete it"):
        build_dataset(settings, tmp_path / "out")
    with pytest.raises(UnreadableSessionError, match="experiment 123 is not in the cache"):
        build_dataset({**settings, "mice": {"X": [123]}}, tmp_path / "out")
