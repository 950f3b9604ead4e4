"""Session options: stimulus code, fault injection, determinism and atomic writes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from brainenc.insilico import session_config, truth_path, write_session

pytest.importorskip("allensdk")
from allensdk.brain_observatory.brain_observatory_exceptions import (  # noqa: E402
    NoEyeTrackingException,
)
from allensdk.core.brain_observatory_nwb_data_set import BrainObservatoryNwbDataSet  # noqa: E402


def _datasets(path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: (
                out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return out


def test_stimulus_code_mode_encodes_the_frame_on_screen_exactly(insilico_code_session) -> None:
    ds = BrainObservatoryNwbDataSet(str(insilico_code_session))
    _, corrected = ds.get_corrected_fluorescence_traces()
    code = corrected[0]
    assert (corrected == code).all()  # every neuron carries the same code
    movie_codes = {"natural_movie_one": 1, "natural_movie_three": 3}
    covered = np.zeros(len(code), dtype=bool)
    for movie, movie_code in movie_codes.items():
        table = ds.get_stimulus_table(movie)
        shown = table[table.end > table.start]
        expected = 1_000_000 * movie_code + 10_000 * shown.repeat.values + shown.frame.values
        np.testing.assert_array_equal(code[shown.start.values], expected)
        two = shown[shown.end - shown.start == 2]
        np.testing.assert_array_equal(code[two.start.values + 1], code[two.start.values])
        for start, end in zip(shown.start.values, shown.end.values, strict=True):
            covered[start:end] = True
    assert (code[~covered] == -1).all()
    np.testing.assert_array_equal(ds.get_dff_traces()[1], corrected)


def test_fault_options_break_exactly_what_they_should(make_insilico_session) -> None:
    path = make_insilico_session(
        "faults", eye_tracking=False, demixed_signal=False, nan_neurons=(2,), dff_length_offset=-1
    )
    ds = BrainObservatoryNwbDataSet(str(path))
    with pytest.raises(NoEyeTrackingException):
        ds.get_pupil_location()
    with pytest.raises(NoEyeTrackingException):
        ds.get_pupil_size()
    with pytest.raises(KeyError):
        ds.get_corrected_fluorescence_traces()
    t, raw = ds.get_fluorescence_traces()
    assert np.isnan(raw[2]).all() and np.isfinite(np.delete(raw, 2, axis=0)).all()
    dff_t, dff = ds.get_dff_traces()
    assert dff.shape == (raw.shape[0], len(t) - 1)
    np.testing.assert_array_equal(dff_t, t[:-1])
    assert np.isnan(dff[2]).all()
    assert len(ds.get_running_speed()[0]) == len(t)  # everything else still reads


def test_longer_dff_and_a_truncated_last_repeat(make_insilico_session) -> None:
    path = make_insilico_session(
        "truncated", truncate_last_repeat="natural_movie_three", dff_length_offset=1
    )
    ds = BrainObservatoryNwbDataSet(str(path))
    dff_t, _ = ds.get_dff_traces()
    t = ds.get_fluorescence_timestamps()
    assert len(dff_t) == len(t) + 1 and dff_t[-1] > t[-1]
    with pytest.raises(ValueError, match="Length of values"):
        ds.get_stimulus_table("natural_movie_three")  # allensdk needs complete repeats
    with h5py.File(path, "r") as f:
        frames = f["stimulus/presentation/natural_movie_three_stimulus/data"][()]
    assert len(frames) == 10 * 420 - 210 and frames[-1] == 209
    assert len(ds.get_stimulus_table("natural_movie_one")) == 2_800


def test_same_seed_gives_byte_identical_arrays(insilico_session, make_insilico_session) -> None:
    again = make_insilico_session("same_as_cache_mouse_a")
    first, second = _datasets(insilico_session), _datasets(again)
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    truth_a, truth_b = np.load(truth_path(insilico_session)), np.load(truth_path(again))
    for name in truth_a.files:
        np.testing.assert_array_equal(truth_a[name], truth_b[name], err_msg=name)


def test_another_seed_gives_another_session(insilico_session, make_insilico_session) -> None:
    other = _datasets(make_insilico_session("seed_1", seed=1))
    first = _datasets(insilico_session)
    for name in (
        "processing/brain_observatory_pipeline/Fluorescence/imaging_plane_1/data",
        "stimulus/templates/natural_movie_one_image_stack/data",
        "processing/brain_observatory_pipeline/ImageSegmentation/cell_specimen_ids",
    ):
        assert not np.array_equal(first[name], other[name]), name


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    import brainenc.insilico.nwb as nwb

    def broken(f, rec) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(nwb, "_write_behavior", broken)
    config = session_config(
        "A",
        "test",
        n_neurons=2,
        natural_movie_one_frames=20,
        natural_movie_three_frames=20,
        drifting_grating_trials=3,
    )
    with pytest.raises(RuntimeError, match="disk full"):
        write_session(tmp_path / "x.nwb", config)
    assert list(tmp_path.iterdir()) == []
