"""The offline BrainObservatoryCache directory, read by allensdk with no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brainenc.insilico import SessionConfigError as ConfigError
from brainenc.insilico import session_config, write_cache
from brainenc.insilico.cache import manifest

pytest.importorskip("allensdk")
from allensdk.core.brain_observatory_cache import BrainObservatoryCache  # noqa: E402

from brainenc.insilico import (  # noqa: E402
    OfflineBrainObservatoryApi,
    OfflineQueryError,
    open_offline_cache,
)

SIMPLE_KEYS = {
    "id",
    "imaging_depth",
    "targeted_structure",
    "cre_line",
    "reporter_line",
    "acquisition_age_days",
    "experiment_container_id",
    "session_type",
    "donor_name",
    "specimen_name",
    "fail_eye_tracking",
}


def test_manifest_is_the_one_allensdk_writes(tmp_path: Path) -> None:
    BrainObservatoryCache(manifest_file=str(tmp_path / "manifest.json"))
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest()


def test_brain_observatory_cache_finds_both_mice_offline(insilico_cache: Path) -> None:
    boc = BrainObservatoryCache(
        manifest_file=str(insilico_cache / "manifest.json"),
        api=OfflineBrainObservatoryApi(insilico_cache),
    )
    experiments = boc.get_ophys_experiments(
        session_types=["three_session_A"], require_eye_tracking=True, include_failed=False
    )
    by_id = {e["id"]: e for e in experiments}
    assert set(by_id) == {501729039, 501773889}
    a = by_id[501729039]
    assert set(a) == SIMPLE_KEYS
    assert (a["targeted_structure"], a["imaging_depth"], a["cre_line"]) == (
        "VISp",
        275,
        "Rorb-IRES2-Cre",
    )
    assert a["reporter_line"] == "Ai93(TITL-GCaMP6f)"
    assert a["acquisition_age_days"] == session_config("A", "test").age_days
    assert a["fail_eye_tracking"] is False
    assert boc.get_ophys_experiments(cre_lines=["Cux2-CreERT2"])[0]["id"] == 501773889
    containers = boc.get_experiment_containers()
    assert {c["id"] for c in containers} == {e["experiment_container_id"] for e in experiments}
    data = boc.get_ophys_experiment_data(501729039)
    assert data.get_metadata()["ophys_experiment_id"] == 501729039
    assert boc.get_nwb_filepath(501773889).endswith("ophys_experiment_data/501773889.nwb")


def test_remote_only_requests_fail_with_a_clear_offline_error(insilico_cache: Path) -> None:
    boc = open_offline_cache(insilico_cache)
    with pytest.raises(OfflineQueryError, match="ophys_experiment_data.*offline"):
        boc.get_ophys_experiment_data(123)
    with pytest.raises(OfflineQueryError, match="offline"):
        boc.get_cell_specimens()


def test_missing_cache_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="eye_mapping_files.json"):
        OfflineBrainObservatoryApi(tmp_path)
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        open_offline_cache(tmp_path)


def test_eye_tracking_filter_and_custom_experiment_ids(tmp_path: Path) -> None:
    custom = session_config(
        "C",
        "test",
        0,
        experiment_id=990000001,
        ophys_session_id=990000002,
        n_neurons=3,
        natural_movie_one_frames=30,
        natural_movie_three_frames=30,
        drifting_grating_trials=3,
        spontaneous_frames=20,
    )
    blind = session_config(
        "B",
        "test",
        0,
        eye_tracking=False,
        n_neurons=3,
        natural_movie_one_frames=30,
        natural_movie_three_frames=30,
        drifting_grating_trials=3,
        spontaneous_frames=20,
    )
    write_cache(tmp_path, [custom, blind])
    boc = open_offline_cache(tmp_path)
    assert [e["id"] for e in boc.get_ophys_experiments(require_eye_tracking=True)] == [990000001]
    assert len(boc.get_ophys_experiments()) == 2
    assert json.loads((tmp_path / "ophys_experiments.json").read_text())[0]["id"] == 990000001


def test_write_cache_refuses_duplicate_mice(tmp_path: Path) -> None:
    a = session_config("A", "test")
    with pytest.raises(ConfigError, match="experiment_id"):
        write_cache(tmp_path, [a, session_config("B", "test", experiment_id=a.experiment_id)])
    with pytest.raises(ConfigError, match="at least one"):
        write_cache(tmp_path, [])
    assert not any(tmp_path.iterdir())
