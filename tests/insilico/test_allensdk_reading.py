"""A simulated session read through allensdk 2.16.2 with every getter the dataset builder uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brainenc.insilico import session_config, truth_path

pytest.importorskip("allensdk")
from allensdk.core.brain_observatory_nwb_data_set import BrainObservatoryNwbDataSet  # noqa: E402

CONFIG = session_config("A", "test", 0)
MOVIES = {
    "natural_movie_one": CONFIG.natural_movie_one_frames,
    "natural_movie_three": CONFIG.natural_movie_three_frames,
}


@pytest.fixture(scope="module")
def dataset(insilico_session: Path) -> BrainObservatoryNwbDataSet:
    return BrainObservatoryNwbDataSet(str(insilico_session))


def test_metadata_is_realistic_and_parsed_by_allensdk(dataset) -> None:
    meta = dataset.get_metadata()
    assert meta["ophys_experiment_id"] == 501729039
    assert meta["experiment_container_id"] == CONFIG.container_id
    assert meta["session_type"] == dataset.get_session_type() == "three_session_A"
    assert (meta["targeted_structure"], meta["imaging_depth_um"]) == ("VISp", 275)
    assert meta["cre_line"] == "Rorb-IRES2-Cre/wt"
    assert meta["genotype"] == "Rorb-IRES2-Cre/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt"
    assert meta["indicator"] == "GCaMP6f"
    assert meta["session_start_time"].date().isoformat() == "2016-02-05"
    assert meta["age_days"] == CONFIG.age_days
    assert meta["device_name"] == "CAM2P.2"
    assert str(dataset.pipeline_version) == "3.0"


def test_stimuli_and_the_seven_epochs_in_session_a_order(dataset) -> None:
    assert sorted(dataset.list_stimuli()) == [
        "drifting_gratings",
        "natural_movie_one",
        "natural_movie_three",
        "spontaneous",
    ]
    epochs = dataset.get_stimulus_epoch_table()
    assert list(epochs.stimulus) == [
        "drifting_gratings",
        "natural_movie_three",
        "natural_movie_one",
        "drifting_gratings",
        "spontaneous",
        "natural_movie_three",
        "drifting_gratings",
    ]
    assert (epochs.start.diff().dropna() > 0).all()
    assert epochs.end.iloc[-1] < len(dataset.get_fluorescence_timestamps())


@pytest.mark.parametrize("movie", list(MOVIES))
def test_movie_tables_have_ten_complete_repeats(dataset, movie: str) -> None:
    table = dataset.get_stimulus_table(movie)
    length = MOVIES[movie]
    assert list(table.columns) == ["frame", "start", "end", "repeat"]
    assert len(table) == 10 * length
    assert (table.repeat.value_counts().sort_index() == length).all()
    assert (
        table.groupby("repeat").frame.apply(lambda f: (f.values == np.arange(length)).all())
    ).all()
    spans = set(np.unique(table.end - table.start))
    assert spans == {0, 1, 2}  # mostly 1 frame, occasional 2- and 0-frame rows
    template = dataset.get_stimulus_template(movie)
    assert template.shape == (length, 38, 76) and template.dtype == np.uint8


def test_natural_movie_three_repeats_split_five_and_five(dataset) -> None:
    table = dataset.get_stimulus_table("natural_movie_three")
    epochs = dataset.get_stimulus_epoch_table()
    nm3 = epochs[epochs.stimulus == "natural_movie_three"]
    first = table[(table.start >= nm3.start.iloc[0]) & (table.end <= nm3.end.iloc[0])]
    assert sorted(first.repeat.unique()) == [0, 1, 2, 3, 4]


def test_traces_share_the_fluorescence_clock(dataset) -> None:
    t = dataset.get_fluorescence_timestamps()
    n = len(dataset.get_cell_specimen_ids())
    assert n == CONFIG.n_neurons and len(t) == CONFIG.n_frames
    assert t[0] > 0 and (np.diff(t) > 0).all()
    for getter in (
        "get_corrected_fluorescence_traces",
        "get_fluorescence_traces",
        "get_demixed_traces",
        "get_neuropil_traces",
        "get_dff_traces",
    ):
        timestamps, traces = getattr(dataset, getter)()
        assert traces.shape == (n, len(t)), getter
        np.testing.assert_array_equal(timestamps, t)
    _, corrected = dataset.get_corrected_fluorescence_traces()
    assert np.isfinite(corrected).all() and corrected.min() > 0
    assert dataset.get_neuropil_r().shape == (n,)


def test_running_speed_is_padded_to_the_2p_clock_with_nan_edges_and_gaps(dataset) -> None:
    speed, timestamps = dataset.get_running_speed()  # allensdk's order: (speed, timestamps)
    t = dataset.get_fluorescence_timestamps()
    assert speed.shape == t.shape
    np.testing.assert_array_equal(timestamps, t)
    nan = np.isnan(speed)
    assert nan[0] and nan[-1]
    inner = nan[np.argmin(nan) : len(nan) - np.argmin(nan[::-1])]
    assert inner.any() and not inner.all()


def test_eye_tracking_has_its_own_clock_and_blinks(dataset) -> None:
    t = dataset.get_fluorescence_timestamps()
    eye_t, spherical = dataset.get_pupil_location()
    _, cm = dataset.get_pupil_location(as_spherical=False)
    size_t, area = dataset.get_pupil_size()
    np.testing.assert_array_equal(eye_t, size_t)
    assert spherical.shape == cm.shape == (len(eye_t), 2) and area.shape == eye_t.shape
    assert not np.isin(eye_t, t).all()
    assert abs(eye_t[0] - t[0]) < 1.0 and abs(eye_t[-1] - t[-1]) < 2.0
    nan = np.isnan(area)
    assert nan.any() and (np.isnan(spherical[:, 0]) == nan).all()
    assert 500 < np.nanmedian(area) < 10_000  # pixels^2
    assert np.nanmax(np.abs(spherical)) < 45  # degrees


def test_segmentation_masks_projection_and_ids(dataset) -> None:
    masks = dataset.get_roi_mask_array()
    ids = dataset.get_cell_specimen_ids()
    assert masks.shape == (len(ids), 512, 512) and masks.dtype == np.uint8
    assert set(np.unique(masks)) == {0, 1}
    assert (masks.sum(axis=(1, 2)) > 30).all()
    projection = dataset.get_max_projection()
    assert projection.shape == (512, 512)
    assert len(set(ids)) == len(ids) and not (np.diff(ids) > 0).all()  # unique, not sorted
    one = dataset.get_corrected_fluorescence_traces([ids[3]])[1]
    np.testing.assert_array_equal(one[0], dataset.get_corrected_fluorescence_traces()[1][3])


def test_grating_and_spontaneous_tables(dataset) -> None:
    gratings = dataset.get_stimulus_table("drifting_gratings")
    assert list(gratings.columns) == [
        "temporal_frequency",
        "orientation",
        "blank_sweep",
        "start",
        "end",
    ]
    assert len(gratings) == CONFIG.drifting_grating_trials
    assert ((gratings.end - gratings.start).between(59, 62)).all()
    spontaneous = dataset.get_stimulus_table("spontaneous")
    assert len(spontaneous) == 1
    assert int(spontaneous.end.iloc[0] - spontaneous.start.iloc[0]) == CONFIG.spontaneous_frames
    assert len(dataset.get_stimulus_table("master")) > 10 * sum(MOVIES.values())


def test_truth_file_matches_the_session(dataset, insilico_session: Path) -> None:
    truth = np.load(truth_path(insilico_session))
    t, corrected = dataset.get_corrected_fluorescence_traces()
    assert truth["truth"].shape == corrected.shape
    np.testing.assert_array_equal(truth["timestamps"], t)
    np.testing.assert_array_equal(truth["cell_specimen_ids"], dataset.get_cell_specimen_ids())
    r = [np.corrcoef(corrected[i], truth["truth"][i])[0, 1] for i in range(len(corrected))]
    np.testing.assert_allclose(r, truth["recorded_truth_correlation"], rtol=1e-6)
    # the default (realistic) mouse's non-stimulus activity keeps this low; clean: test_realism
    assert np.median(r) > 0.1
    table = dataset.get_stimulus_table("natural_movie_one")
    one = table[table.end > table.start]
    np.testing.assert_array_equal(truth["shown_frame"][one.start.values], one.frame.values)
    np.testing.assert_array_equal(truth["shown_repeat"][one.start.values], one.repeat.values)
