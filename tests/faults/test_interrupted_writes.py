"""A full disk or a killed process while a dataset is written never damages the existing dataset
and never leaves a partial one where a dataset is expected.

The replacement build (`overwrite=true`, other normalisation) is interrupted by: ENOSPC from a
real 100 MiB tmpfs; ENOSPC injected at random file writes; SIGKILL of a real forked build process
at random file writes and between the two renames of the commit; and (slow) SIGKILL of
`python -m brainenc.data.build` after random delays.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_helpers import folder_snapshot, manifest_of, nwb_settings

from brainenc.data import writer as layout
from brainenc.data.build import build_dataset
from brainenc.data.dataset import MouseDataset
from brainenc.data.errors import DatasetWriteError
from brainenc.data.writer import sweep_stale

REPLACEMENT = {"overwrite": True, "normalisation": "viv1t"}


def assert_only_complete_datasets(root: Path, before: dict[str, bytes]) -> None:
    """Every visible folder is the old dataset or a complete new one (hash-verified)."""
    for folder in (p for p in root.iterdir() if not p.name.startswith(".")):
        MouseDataset(folder, verify="hash")
        if manifest_of(folder)["config"]["normalisation"] == "seed":
            assert folder_snapshot(folder) == before


def assert_recovered(root: Path, source: Path, before: dict[str, bytes]) -> None:
    """After the sweep of the next build, exactly one complete dataset A is left."""
    sweep_stale(root)
    assert sorted(os.listdir(root)) == ["A"]
    assert_only_complete_datasets(root, before)
    build_dataset(nwb_settings(source, **REPLACEMENT), root)
    assert manifest_of(root / "A")["config"]["normalisation"] == "viv1t"
    MouseDataset(root / "A", verify="hash")


@pytest.fixture
def small_disk(tmp_path):
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=100m", "tmpfs", str(mountpoint)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield mountpoint
    subprocess.run(["umount", str(mountpoint)], check=True)


def test_full_disk_keeps_the_dataset_and_leaves_no_partial_copy(
    small_disk, built_dataset, insilico_session
):
    root = small_disk / "datasets"
    shutil.copytree(built_dataset, root / "A")  # 64 MiB of 100: the replacement cannot fit
    before = folder_snapshot(root / "A")
    with pytest.raises(DatasetWriteError, match="No space left on device") as caught:
        build_dataset(nwb_settings(insilico_session, **REPLACEMENT), root)
    message = str(caught.value)
    assert caught.value.errno == errno.ENOSPC
    assert str(root / "A") in message and "the existing dataset there is unchanged" in message
    assert "Free disk space or point data.root at a larger disk" in message
    assert sorted(os.listdir(root)) == ["A"]
    assert folder_snapshot(root / "A") == before


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_disk_full_at_a_random_file_write(seed, existing_dataset, insilico_session, monkeypatch):
    root, before = existing_dataset
    files = len(manifest_of(root / "A")["arrays"])
    fail_at = random.Random(seed).randrange(files)
    calls = []
    write_bytes = Path.write_bytes

    def failing_write(self: Path, data: bytes) -> int:
        calls.append(self)
        if len(calls) > fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_bytes(self, data)

    monkeypatch.setattr(layout.Path, "write_bytes", failing_write)
    with pytest.raises(DatasetWriteError, match=r"writing dataset .*/A failed after .* MiB"):
        build_dataset(nwb_settings(insilico_session, **REPLACEMENT), root)
    monkeypatch.undo()
    assert len(calls) == fail_at + 1
    assert sorted(os.listdir(root)) == ["A"]
    assert folder_snapshot(root / "A") == before


def test_disk_full_on_a_first_build_leaves_nothing(insilico_session, tmp_path, monkeypatch):
    def failing_write(self: Path, data: str, *args, **kwargs) -> int:
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(layout.Path, "write_text", failing_write)  # the manifest, written last
    with pytest.raises(DatasetWriteError, match="no partial dataset was left"):
        build_dataset(nwb_settings(insilico_session), tmp_path)
    assert os.listdir(tmp_path) == []


def _killed_build(source: str, root: str, kill_at_save: int | None) -> None:
    """Child process: build, SIGKILL itself at the given file write or inside the commit."""
    save, rename = layout.FolderWriter.save, os.rename
    calls = {"save": 0, "rename": 0}

    def save_then_die(self, relative, array):
        if calls["save"] == kill_at_save:
            os.kill(os.getpid(), signal.SIGKILL)
        calls["save"] += 1
        return save(self, relative, array)

    def rename_then_die(src, dst):
        rename(src, dst)
        calls["rename"] += 1
        if kill_at_save is None and calls["rename"] == 1:  # old moved aside, new not yet in place
            os.kill(os.getpid(), signal.SIGKILL)

    layout.FolderWriter.save = save_then_die
    layout.os.rename = rename_then_die
    build_dataset(nwb_settings(Path(source), **REPLACEMENT), root)


def run_killed_build(source: Path, root: Path, kill_at_save: int | None) -> int:
    process = multiprocessing.get_context("fork").Process(
        target=_killed_build, args=(str(source), str(root), kill_at_save)
    )
    process.start()
    process.join(120)
    return process.exitcode


@pytest.mark.parametrize("point", ["save-0", "save-random-a", "save-random-b", "commit-rename"])
def test_build_killed_at_a_random_point_keeps_the_dataset(
    point, existing_dataset, insilico_session
):
    root, before = existing_dataset
    files = len(manifest_of(root / "A")["arrays"])
    kill_at = {
        "save-0": 0,
        "save-random-a": random.Random(10).randrange(files),
        "save-random-b": random.Random(11).randrange(files),
        "commit-rename": None,
    }[point]
    assert run_killed_build(insilico_session, root, kill_at) == -signal.SIGKILL
    leftovers = [p.name for p in root.iterdir() if p.name.startswith(".")]
    assert leftovers and all(".A.tmp-" in n or ".A.old-" in n for n in leftovers)
    if point == "commit-rename":  # the only moment without a visible A: restored by the sweep
        assert not (root / "A").exists()
        sweep_stale(root)
        assert folder_snapshot(root / "A") == before
    assert_only_complete_datasets(root, before)
    assert_recovered(root, insilico_session, before)


@pytest.mark.slow
def test_build_command_killed_after_random_delays(built_dataset, insilico_session, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(built_dataset, root / "A")
    before = folder_snapshot(root / "A")
    command = [
        sys.executable,
        "-c",
        "import sys; from brainenc.data.build import build_dataset; print('ready', flush=True); "
        f"build_dataset({nwb_settings(insilico_session, **REPLACEMENT)!r}, {str(root)!r})",
    ]
    rng = random.Random(2024)
    for _ in range(5):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert process.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 2.0))
        process.send_signal(signal.SIGKILL)
        process.wait(60)
        assert_only_complete_datasets(root, before)
        sweep_stale(root)
        assert sorted(os.listdir(root)) == ["A"]
        if manifest_of(root / "A")["config"]["normalisation"] == "viv1t":  # it finished: restart
            shutil.rmtree(root / "A")
            shutil.copytree(built_dataset, root / "A")
