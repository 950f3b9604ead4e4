"""Builds into one dataset root run one at a time: a second build waits for the first (saying
which process it waits for), then finds the mice built. Never "pass overwrite=true" for a
folder another build is writing, and never two replacements racing on one folder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from pathlib import Path

from fault_helpers import folder_snapshot, manifest_of, nwb_settings

from brainenc.data.build import build_dataset
from brainenc.data.dataset import MouseDataset


def _build_in_thread(settings: dict, root: Path, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            build_dataset(settings, root)
        except BaseException as error:  # reported by the test
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_second_build_waits_for_the_running_one(insilico_session, tmp_path, caplog):
    root = tmp_path / "root"
    root.mkdir()
    holder = os.open(root, os.O_RDONLY)  # what a running build holds
    fcntl.flock(holder, fcntl.LOCK_EX)
    errors: list[BaseException] = []
    with caplog.at_level(logging.WARNING, logger="brainenc.data.writer"):
        thread = _build_in_thread(nwb_settings(insilico_session), root, errors)
        time.sleep(1.5)
        assert thread.is_alive() and not errors
        assert os.listdir(root) == []  # it waits before touching the root
        os.close(holder)
        thread.join(120)
    assert not thread.is_alive() and not errors
    waiting = [r.getMessage() for r in caplog.records if "another build" in r.getMessage()]
    assert waiting and f"pid {os.getpid()}" in waiting[0] and str(root) in waiting[0]
    assert sorted(os.listdir(root)) == ["A"]
    MouseDataset(root / "A", verify="hash")


def test_two_builds_with_the_same_settings_both_succeed(insilico_session, tmp_path, caplog):
    root = tmp_path / "root"
    errors: list[BaseException] = []
    with caplog.at_level(logging.INFO, logger="brainenc.data.build"):
        threads = [_build_in_thread(nwb_settings(insilico_session), root, errors) for _ in "ab"]
        for thread in threads:
            thread.join(180)
    assert not errors, errors
    assert sorted(os.listdir(root)) == ["A"]
    assert any("up to date" in r.getMessage() for r in caplog.records)
    MouseDataset(root / "A", verify="hash")


def test_two_replacing_builds_do_not_race(insilico_session, existing_dataset):
    root, before = existing_dataset
    settings = nwb_settings(insilico_session, overwrite=True, normalisation="viv1t")
    errors: list[BaseException] = []
    threads = [_build_in_thread(settings, root, errors) for _ in "ab"]
    for thread in threads:
        thread.join(180)
    assert not errors, errors
    assert sorted(os.listdir(root)) == ["A"]
    assert manifest_of(root / "A")["config"]["normalisation"] == "viv1t"
    assert folder_snapshot(root / "A") != before
    MouseDataset(root / "A", verify="hash")
