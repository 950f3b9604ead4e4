"""A build that fails leaves no empty dataset folder or Allen cache behind, and says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from fault_helpers import nwb_settings

from brainenc.data.build import build_dataset
from brainenc.data.errors import SessionFileError, UnreadableSessionError


def test_a_clip_fold_build_that_cannot_split_leaves_no_folder(insilico_session, tmp_path):
    root = tmp_path / "datasets" / "clipfold0of5"
    settings = nwb_settings(insilico_session, splits={"by": "clip", "folds": 5, "test_fold": 0})
    with pytest.raises(SessionFileError, match="data.build.splits.folds=5"):
        build_dataset(settings, root)
    assert not root.exists()


def test_a_failed_build_keeps_an_existing_root(insilico_session, tmp_path):
    root = tmp_path / "datasets"
    (root / "other").mkdir(parents=True)
    settings = nwb_settings(insilico_session, splits={"by": "clip", "folds": 5, "test_fold": 0})
    with pytest.raises(SessionFileError):
        build_dataset(settings, root)
    assert (root / "other").is_dir()


@pytest.mark.parametrize("mice", [{"A": [501729039]}, None], ids=["listed", "selection"])
def test_allen_offline_names_the_ways_out_and_leaves_nothing(tmp_path, monkeypatch, mice):
    # No route to the Allen server: every request goes to a closed local port.
    for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    cache, root = tmp_path / "allen_cache", tmp_path / "datasets" / "allen_seed"
    settings = {"source": "allen", "cache_dir": str(cache), "mice": mice, "figures": False}
    with pytest.raises(UnreadableSessionError, match=r"data=nwb data.build.mice=\{A:\[") as error:
        build_dataset(settings, root)
    assert "data.build.cache_dir" in str(error.value)
    assert not cache.exists() and not root.exists()
    assert not any(Path(tmp_path).rglob("*.json"))
