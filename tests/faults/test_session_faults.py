"""Unusable NWB sessions: a clear error naming the file and the problem, before anything is
written; an existing dataset stays byte-identical and no partial folder is left.

tests/data/test_build_errors.py checks the error types of the simulated faults on an empty root;
here every fault is also thrown at a root that already holds a good dataset (overwrite=true).
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from fault_helpers import folder_snapshot, nwb_settings

from brainenc.data.build import build_dataset
from brainenc.data.dataset import MouseDataset
from brainenc.data.errors import (
    ImplausibleDataError,
    IncompleteRepeatsError,
    MissingDataError,
    MissingTracesError,
    NoEyeTrackingError,
    SessionFileError,
    UnreadableSessionError,
    WrongSessionTypeError,
)


def _set_session_type(name: str):
    def edit(file: h5py.File) -> None:
        dataset = file["general/session_type"]
        dataset[()] = np.array(name.encode(), dtype=dataset.dtype)

    return edit


def _three_session_b(file: h5py.File) -> None:
    """What a three_session_B file looks like to the builder: other type, no natural_movie_three."""
    _set_session_type("three_session_B")(file)
    del file["stimulus/presentation/natural_movie_three_stimulus"]


def _drop(*paths: str):
    def edit(file: h5py.File) -> None:
        for path in paths:
            del file[path]

    return edit


EDITED = {
    "wrong-session-type": (_three_session_b, WrongSessionTypeError, "'three_session_B' session"),
    "missing-stimulus": (
        _drop("stimulus/presentation/natural_movie_three_stimulus"),
        SessionFileError,
        r"natural_movie_three is not shown in .*three_session_A, shows \['natural_movie_one'\]",
    ),
    "missing-fluorescence": (
        _drop("processing/brain_observatory_pipeline/Fluorescence"),
        MissingTracesError,
        "no demixed signal",
    ),
    "missing-segmentation": (
        _drop("processing/brain_observatory_pipeline/ImageSegmentation"),
        UnreadableSessionError,
        "lacks data allensdk expects",
    ),
}
SIMULATED = {
    "missing-eye-tracking": ({"eye_tracking": False}, NoEyeTrackingError, "no eye tracking"),
    "incomplete-repeats": (
        {"truncate_last_repeat": "natural_movie_three"},
        IncompleteRepeatsError,
        "natural_movie_three stimulus table does not hold whole repeats",
    ),
    "missing-demixed-traces": ({"demixed_signal": False}, MissingTracesError, "no demixed signal"),
    "all-nan-neuron": ({"nan_neurons": (0, 5)}, MissingDataError, r"2 neuron\(s\) have no finite"),
}


def _not_hdf5(tmp_path: Path) -> Path:
    path = tmp_path / "download.nwb"
    path.write_text("<html>502 Bad Gateway</html>\n")
    return path


def _other_hdf5(tmp_path: Path) -> Path:
    path = tmp_path / "other.nwb"
    with h5py.File(path, "w") as file:
        file["acquisition/timeseries/data"] = np.zeros(10)
    return path


def _truncated(tmp_path: Path, source: Path) -> Path:
    path = tmp_path / "truncated.nwb"
    with open(source, "rb") as handle:
        path.write_bytes(handle.read(source.stat().st_size * 2 // 3))
    return path


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.nwb"
    path.write_bytes(b"")
    return path


def assert_refused_and_kept(
    source: Path, root: Path, before: dict[str, bytes], error: type, message: str
) -> None:
    """The build refuses ``source`` naming it; ``root`` still holds exactly the old dataset."""
    with pytest.raises(error, match=message) as caught:
        build_dataset(nwb_settings(source, overwrite=True), root)
    assert str(source) in str(caught.value)
    assert sorted(os.listdir(root)) == ["A"]
    assert folder_snapshot(root / "A") == before
    MouseDataset(root / "A", verify="hash")


@pytest.mark.parametrize("fault", list(EDITED))
def test_damaged_session_file_is_refused_and_the_dataset_kept(
    fault, edited_session, existing_dataset
):
    edit, error, message = EDITED[fault]
    assert_refused_and_kept(edited_session(fault, edit), *existing_dataset, error, message)


@pytest.mark.parametrize("fault", list(SIMULATED))
def test_unusable_simulated_session_is_refused_and_the_dataset_kept(
    fault, make_insilico_session, existing_dataset
):
    overrides, error, message = SIMULATED[fault]
    path = make_insilico_session(f"faults-{fault}", **overrides)
    assert_refused_and_kept(path, *existing_dataset, error, message)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_not_hdf5, "cannot be read .*not an NWB file. Delete it and download it again"),
        (_empty, "cannot be read .*Delete it and download it again"),
        (_other_hdf5, "HDF5 but not an Allen Brain Observatory NWB 1.x session: it has no "),
    ],
    ids=["not-hdf5", "empty-file", "hdf5-not-nwb"],
)
def test_file_that_is_no_session_is_refused(make, message, tmp_path, existing_dataset):
    assert_refused_and_kept(make(tmp_path), *existing_dataset, UnreadableSessionError, message)


def test_truncated_download_is_refused_and_the_dataset_kept(
    insilico_session, tmp_path, existing_dataset
):
    path = _truncated(tmp_path, insilico_session)
    assert_refused_and_kept(path, *existing_dataset, UnreadableSessionError, "truncated")


def test_other_session_types_can_be_accepted_explicitly(edited_session, tmp_path):
    path = edited_session("type-b-only", _set_session_type("three_session_B"))
    with pytest.raises(WrongSessionTypeError, match=r"accepts \['three_session_A'\]"):
        build_dataset(nwb_settings(path), tmp_path)
    assert os.listdir(tmp_path) == []
    types = {"session_types": ["three_session_A", "three_session_B"]}
    build_dataset(nwb_settings(path, selection=types), tmp_path)
    assert MouseDataset(tmp_path / "A").mouse.manifest["session"]["session_type"] == (
        "three_session_B"
    )


# Damaged data inside a file that still opens: bit rot in a data region, single infinities and
# absurd values. Each is refused naming the file and the array; the old dataset stays.
PIPELINE = "processing/brain_observatory_pipeline"
BIT_ROT = {
    "neuropil": (
        f"{PIPELINE}/Fluorescence/imaging_plane_1_neuropil_response/data",
        "corrected fluorescence .* outside the plausible range",
    ),
    "demixed-signal": (
        f"{PIPELINE}/Fluorescence/imaging_plane_1_demixed_signal/data",
        "corrected fluorescence .* outside the plausible range",
    ),
    "running-speed": (
        f"{PIPELINE}/BehavioralTimeSeries/running_speed/data",
        r"running speed \(processing/.*\) has \d+ value\(s\) outside",
    ),
    "pupil-size": (
        f"{PIPELINE}/PupilTracking/pupil_size/data",
        r"pupil size \(processing/.*\) has \d+ value\(s\) outside",
    ),
    "frame-times": (
        f"{PIPELINE}/Fluorescence/imaging_plane_1/timestamps",
        "two-photon timestamps .* are not finite and strictly increasing",
    ),
}


def _with_random_bytes(source: Path, folder: Path, dataset: str, size: int = 4096) -> Path:
    """A copy of ``source`` with ``size`` random bytes written over the stored data of ``dataset``."""
    path = folder / f"{dataset.replace('/', '_')}.nwb"
    path.write_bytes(source.read_bytes())
    with h5py.File(path, "r") as file:
        offset = file[dataset].id.get_offset()
        size = min(size, file[dataset].id.get_storage_size())
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(np.random.default_rng(0).bytes(size))
    return path


def _set_value(dataset: str, index: tuple[int, ...], value: float):
    def edit(file: h5py.File) -> None:
        file[dataset][index] = value

    return edit


@pytest.mark.parametrize("fault", list(BIT_ROT))
def test_bit_rot_in_a_data_region_is_refused_and_the_dataset_kept(
    fault, insilico_session, tmp_path, existing_dataset
):
    dataset, message = BIT_ROT[fault]
    path = _with_random_bytes(insilico_session, tmp_path, dataset)
    assert_refused_and_kept(path, *existing_dataset, SessionFileError, f"{message}.*damaged")


SINGLE_VALUES = {
    "inf-in-fluorescence": (
        f"{PIPELINE}/Fluorescence/imaging_plane_1_demixed_signal/data",
        (3, 500),
        np.inf,
        r"corrected fluorescence .* 1 value\(s\) .*infinite \(first at neuron row 3, frame 500",
    ),
    "inf-in-running-speed": (
        f"{PIPELINE}/BehavioralTimeSeries/running_speed/data",
        (500,),
        np.inf,
        r"running speed .*BehavioralTimeSeries/running_speed.* 1 value\(s\)",
    ),
    "absurd-running-speed": (
        f"{PIPELINE}/BehavioralTimeSeries/running_speed/data",
        (700,),
        -3e30,
        r"running speed .*plausible range \[-10000, 10000\] cm/s",
    ),
    "inf-in-pupil-location": (
        f"{PIPELINE}/EyeTracking/pupil_location_spherical/data",
        (600, 1),
        -np.inf,
        r"pupil location \(spherical\)",
    ),
}


@pytest.mark.parametrize("fault", list(SINGLE_VALUES))
def test_single_implausible_value_is_refused_before_imputation(
    fault, edited_session, existing_dataset
):
    dataset, index, value, message = SINGLE_VALUES[fault]
    path = edited_session(fault, _set_value(dataset, index, value))
    assert_refused_and_kept(path, *existing_dataset, ImplausibleDataError, message)


def test_damaged_hdf5_structure_names_the_file(insilico_session, tmp_path, existing_dataset):
    """Random bytes over the stimulus groups' metadata: h5py's RuntimeError becomes ours."""
    path = tmp_path / "damaged_structure.nwb"
    path.write_bytes(insilico_session.read_bytes())
    with open(path, "r+b") as handle:
        handle.seek(20_000)
        handle.write(np.random.default_rng(20_000).bytes(256))
    assert_refused_and_kept(
        path, *existing_dataset, UnreadableSessionError, r"cannot be decoded \(RuntimeError"
    )
