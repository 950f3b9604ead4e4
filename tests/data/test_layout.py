from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from brainenc.data.errors import DatasetExistsError, DatasetIntegrityError
from brainenc.data.mouse_folder import read_manifest, verify_folder
from brainenc.data.writer import FolderWriter, sweep_stale


def write(target: Path, value: float, overwrite: bool = False, fail_after: int | None = None):
    with FolderWriter(target) as writer:
        for i in range(5):
            if fail_after is not None and i == fail_after:
                raise RuntimeError("injected failure mid-write")
            writer.save(f"data/x/{i}.npy", np.full((3, 4), value + i, np.float32))
        return writer.commit({"mouse_id": target.name}, overwrite=overwrite)


def entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def test_commit_writes_manifest_with_checksums(tmp_path):
    folder = write(tmp_path / "A", 1.0)
    manifest = read_manifest(folder)
    record = manifest["arrays"]["data/x/2.npy"]
    assert record["shape"] == [3, 4] and record["dtype"] == "float32"
    assert record["bytes"] == (folder / "data/x/2.npy").stat().st_size
    np.testing.assert_array_equal(np.load(folder / "data/x/2.npy"), 3.0)
    verify_folder(folder, manifest, full=True)
    assert entries(tmp_path) == ["A"]


def test_failure_mid_write_leaves_nothing_and_keeps_the_old_dataset(tmp_path):
    with pytest.raises(RuntimeError, match="injected"):
        write(tmp_path / "A", 1.0, fail_after=3)
    assert entries(tmp_path) == []
    write(tmp_path / "A", 1.0)
    with pytest.raises(RuntimeError, match="injected"):
        write(tmp_path / "A", 9.0, overwrite=True, fail_after=2)
    assert entries(tmp_path) == ["A"]
    np.testing.assert_array_equal(np.load(tmp_path / "A/data/x/0.npy"), 1.0)
    with pytest.raises(DatasetExistsError, match="overwrite=true"):
        write(tmp_path / "A", 9.0)
    write(tmp_path / "A", 9.0, overwrite=True)
    assert entries(tmp_path) == ["A"]
    np.testing.assert_array_equal(np.load(tmp_path / "A/data/x/0.npy"), 9.0)


SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from pathlib import Path
    from brainenc.data.writer import FolderWriter
    with FolderWriter(Path(sys.argv[1])) as writer:
        for i in range(10_000):
            writer.save(f"data/{i}.npy", np.zeros(10))
            time.sleep(0.01)
        writer.commit({}, overwrite=True)
    """
)


def test_sigkill_mid_write_leaves_no_dataset_and_old_one_intact(tmp_path):
    write(tmp_path / "A", 1.0)
    before = (tmp_path / "A/manifest.json").read_text()
    process = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(tmp_path / "A")])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            temporary = [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
            if temporary and len(list((temporary[0] / "data").glob("*.npy"))) > 5:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the writer subprocess never started writing")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert (tmp_path / "A/manifest.json").read_text() == before
    verify_folder(tmp_path / "A", read_manifest(tmp_path / "A"), full=True)
    leftovers = [p for p in tmp_path.iterdir() if p.name != "A"]
    assert leftovers and all(p.name.startswith(".A.tmp-") for p in leftovers)
    assert sweep_stale(tmp_path) == leftovers
    assert entries(tmp_path) == ["A"]


def test_interrupted_replacement_is_restored(tmp_path):
    write(tmp_path / "A", 1.0)
    (tmp_path / "A").rename(tmp_path / ".A.old-999999999-abcd")  # killed between the renames
    sweep_stale(tmp_path)
    assert entries(tmp_path) == ["A"]
    np.testing.assert_array_equal(np.load(tmp_path / "A/data/x/1.npy"), 2.0)


def test_integrity_errors_name_the_file_and_the_fix(tmp_path):
    folder = write(tmp_path / "A", 1.0)
    manifest = read_manifest(folder)
    path = folder / "data/x/3.npy"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(DatasetIntegrityError, match=r"data/x/3\.npy has \d+ bytes.*overwrite=true"):
        verify_folder(folder, manifest)
    np.save(path, np.full((3, 4), 7.0, np.float32))  # same size, other content
    verify_folder(folder, manifest)
    with pytest.raises(DatasetIntegrityError, match="does not match its sha256"):
        verify_folder(folder, manifest, full=True)
    path.unlink()
    with pytest.raises(DatasetIntegrityError, match=r"data/x/3\.npy is missing"):
        verify_folder(folder, manifest)
    (folder / "manifest.json").write_text("{")
    with pytest.raises(DatasetIntegrityError, match="not valid JSON"):
        read_manifest(folder)
    (folder / "manifest.json").write_text(json.dumps({"format_version": 0}))
    with pytest.raises(DatasetIntegrityError, match="format_version 0"):
        read_manifest(folder)
